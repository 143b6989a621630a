"""A real farebridge server over real mTLS sockets, on each database, with a
small world in it: a clearing house, two operators, two issuers."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from grpc_status import rpc_status
from sqlalchemy import func, select

from clearing.pki import PkiLayout, init_pki
from clearing.server import ServerSettings, start_server
from clearing.storage import Database
from clearing.storage.models import LedgerTransferRow, TapRow
from farebridge.codecs import generate_device_key, public_key_bytes, seal_batch
from farebridge.v1 import (
    clearing_service_pb2,
    clearing_service_pb2_grpc,
    common_pb2,
    reader_service_pb2,
    reader_service_pb2_grpc,
    registry_service_pb2,
    registry_service_pb2_grpc,
    tap_pb2,
)
from readers import Reader, ServerConnection

CLEARING_HOUSE = "clearing-house"
METRO, BUS, CARDS, WALLET, AUDITOR, STRANGER = (
    "metro",
    "bus",
    "cards",
    "wallet",
    "auditor",
    "stranger",
)
PARTICIPANTS = (
    CLEARING_HOUSE,
    METRO,
    BUS,
    CARDS,
    WALLET,
    AUDITOR,
    STRANGER,
    "metro-co",
    "metro-auditor",
)
METRO_FARE = 190
BUS_FARE = 120


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PkiLayout:
    """One PKI for the session; ``stranger`` holds a valid certificate but is
    never admitted as a participant."""
    return init_pki(tmp_path_factory.mktemp("pki"), PARTICIPANTS)


def connection(pki: PkiLayout, address: str, participant_id: str) -> ServerConnection:
    return ServerConnection.from_files(
        address, pki.ca_cert, pki.client_cert(participant_id), pki.client_key(participant_id)
    )


@dataclass
class World:
    """A server's address, what it stores to, and a channel per participant."""

    address: str
    pki: PkiLayout
    database_url: str
    state_dir: Path
    channels: dict[str, grpc.Channel] = field(default_factory=dict)

    def channel(self, participant_id: str) -> grpc.Channel:
        if participant_id not in self.channels:
            conn = connection(self.pki, self.address, participant_id)
            self.channels[participant_id] = conn.channel()
        return self.channels[participant_id]

    def registry(self, participant_id: str) -> registry_service_pb2_grpc.RegistryServiceStub:
        return registry_service_pb2_grpc.RegistryServiceStub(self.channel(participant_id))

    def clearing(self, participant_id: str) -> clearing_service_pb2_grpc.ClearingServiceStub:
        return clearing_service_pb2_grpc.ClearingServiceStub(self.channel(participant_id))

    def taps_stub(self, participant_id: str) -> reader_service_pb2_grpc.ReaderServiceStub:
        return reader_service_pb2_grpc.ReaderServiceStub(self.channel(participant_id))

    def reader(self, device_id: str, operator_id: str = METRO, **options: int) -> Reader:
        """A reader SDK instance for an already registered device."""
        conn = connection(self.pki, self.address, operator_id)
        return Reader(device_id, self.state_dir / device_id, conn, **options)

    def install_reader(
        self, device_id: str, operator_id: str = METRO, mode: int = common_pb2.TRANSIT_MODE_METRO
    ) -> Reader:
        reader = self.reader(device_id, operator_id)
        register_device(self, device_id, reader.public_key, operator_id, mode)
        return reader

    def close(self) -> None:
        for channel in self.channels.values():
            channel.close()


def register_device(
    world: World,
    device_id: str,
    public_key: bytes,
    operator_id: str,
    mode: int,
    stop_id: str | None = None,
) -> None:
    device = registry_service_pb2.Device(
        device_id=device_id,
        public_key=public_key,
        stop_id=stop_id or f"{device_id}-stop",
        mode=mode,
    )
    world.registry(operator_id).RegisterDevice(
        registry_service_pb2.RegisterDeviceRequest(device=device)
    )


def admit(world: World, participant_id: str, role: int, currency: str = "SGD") -> None:
    participant = registry_service_pb2.Participant(
        participant_id=participant_id,
        display_name=participant_id.title(),
        role=role,
        settlement_currency=currency,
    )
    world.registry(CLEARING_HOUSE).RegisterParticipant(
        registry_service_pb2.RegisterParticipantRequest(participant=participant)
    )


def set_fare(world: World, operator_id: str, mode: int, minor_units: int) -> None:
    fare = clearing_service_pb2.FlatFare(
        operator_id=operator_id,
        mode=mode,
        fare=common_pb2.Money(minor_units=minor_units, currency="SGD"),
    )
    world.clearing(CLEARING_HOUSE).SetFlatFare(
        clearing_service_pb2.SetFlatFareRequest(flat_fare=fare)
    )


def issue_media(world: World, issuer_id: str, *tokens: str) -> None:
    for token in tokens:
        world.registry(issuer_id).RegisterMedium(
            registry_service_pb2.RegisterMediumRequest(
                medium=registry_service_pb2.Medium(medium_token=token)
            )
        )


def populate(world: World) -> None:
    """Operators metro (190) and bus (120), issuers cards and wallet, an auditor;
    media card-1..card-5 at cards and phone-1..phone-3 at wallet."""
    role = common_pb2
    admit(world, METRO, role.PARTICIPANT_ROLE_OPERATOR)
    admit(world, BUS, role.PARTICIPANT_ROLE_OPERATOR)
    admit(world, CARDS, role.PARTICIPANT_ROLE_ISSUER)
    admit(world, WALLET, role.PARTICIPANT_ROLE_ISSUER)
    admit(world, AUDITOR, role.PARTICIPANT_ROLE_AUDITOR)
    set_fare(world, METRO, role.TRANSIT_MODE_METRO, METRO_FARE)
    set_fare(world, BUS, role.TRANSIT_MODE_BUS, BUS_FARE)
    issue_media(world, CARDS, *(f"card-{n}" for n in range(1, 6)))
    issue_media(world, WALLET, *(f"phone-{n}" for n in range(1, 4)))


@pytest.fixture
def world(pki: PkiLayout, database_url: str, tmp_path: Path) -> Iterator[World]:
    server = start_server(
        ServerSettings(
            database_url=database_url,
            pki_dir=pki.directory,
            listen="127.0.0.1:0",
            clearing_house_id=CLEARING_HOUSE,
            max_workers=8,
        )
    )
    world = World(f"localhost:{server.port}", pki, database_url, tmp_path)
    try:
        populate(world)
        yield world
    finally:
        world.close()
        server.stop(grace=None)


# ------------------------------------------------------------ raw batches


def now() -> datetime:
    return datetime.now(UTC)


def tap(
    tap_id: str,
    token: str = "card-1",
    direction: int = common_pb2.TAP_DIRECTION_ON,
    sequence: int = 1,
    at: datetime | None = None,
) -> tap_pb2.Tap:
    message = tap_pb2.Tap(
        tap_id=tap_id, device_sequence=sequence, medium_token=token, direction=direction
    )
    message.tapped_at.FromDatetime(at or now() - timedelta(minutes=1))
    return message


@dataclass
class RawDevice:
    """A device driven without the SDK, to send exactly the bytes a test needs."""

    device_id: str
    key: Ed25519PrivateKey = field(default_factory=generate_device_key)

    def batch(self, *taps: tap_pb2.Tap) -> reader_service_pb2.SubmitTapsRequest:
        batch = tap_pb2.TapBatch(device_id=self.device_id, batch_id=str(uuid.uuid4()), taps=taps)
        batch.sealed_at.FromDatetime(now())
        return reader_service_pb2.SubmitTapsRequest(signed_batch=seal_batch(batch, self.key))

    @property
    def public_key(self) -> bytes:
        return public_key_bytes(self.key)


@pytest.fixture
def gate(world: World) -> RawDevice:
    """A registered metro reader whose batches the test builds by hand."""
    device = RawDevice("metro-gate-1")
    register_device(world, device.device_id, device.public_key, METRO, 1)
    return device


def batch_rejection(error: grpc.RpcError) -> reader_service_pb2.BatchRejection:
    """The BatchRejection in a refused batch's google.rpc.Status details."""
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None, "the error carries google.rpc.Status details"
    rejection = reader_service_pb2.BatchRejection()
    assert status.details[0].Unpack(rejection)
    return rejection


def submit(
    world: World, operator_id: str, *requests: reader_service_pb2.SubmitTapsRequest
) -> list[reader_service_pb2.SubmitTapsResponse]:
    return list(world.taps_stub(operator_id).SubmitTaps(iter(requests), timeout=20))


@dataclass(frozen=True)
class Books:
    """What the central record holds: the evidence a bad request must not change."""

    tap_ids: frozenset[str]
    fare_total: int
    transfers: int


def books(world: World) -> Books:
    database = Database(world.database_url)
    try:
        with database.transaction() as session:
            tap_ids = frozenset(session.scalars(select(TapRow.tap_id)))
            total = session.scalar(select(func.coalesce(func.sum(LedgerTransferRow.amount), 0)))
            count = session.scalar(select(func.count()).select_from(LedgerTransferRow))
    finally:
        database.dispose()
    return Books(tap_ids, int(total or 0), int(count or 0))
