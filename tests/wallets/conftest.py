"""A real farebridge server over real mTLS sockets, on each database, with two
wallet providers, an operator with a gate reader and flat fares, and the
clearing house whose key signs the lists readers download."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from sqlalchemy import func, select

from clearing.pki import PkiLayout, init_pki, load_signing_key
from clearing.server import ServerSettings, start_server
from clearing.storage import Database
from clearing.storage.models import LedgerTransferRow
from farebridge.v1 import (
    clearing_service_pb2,
    clearing_service_pb2_grpc,
    common_pb2,
    reader_service_pb2_grpc,
    registry_service_pb2,
    registry_service_pb2_grpc,
)
from readers import ServerConnection
from readers._lists import ListSync
from wallets import WalletClient, WalletConnection

CLEARING_HOUSE, METRO, TAPWALLET, PAYROUTE = "clearing-house", "metro", "tapwallet", "payroute"
PARTICIPANTS = (CLEARING_HOUSE, METRO, TAPWALLET, PAYROUTE)
METRO_FARE = 190


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PkiLayout:
    return init_pki(tmp_path_factory.mktemp("pki"), PARTICIPANTS)


@dataclass
class World:
    """A server's address, its database, and clients per participant."""

    address: str
    pki: PkiLayout
    database_url: str
    clients: list[WalletClient] = field(default_factory=list)
    channels: list[grpc.Channel] = field(default_factory=list)

    def server_connection(self, participant_id: str) -> ServerConnection:
        return ServerConnection.from_files(
            self.address,
            self.pki.ca_cert,
            self.pki.client_cert(participant_id),
            self.pki.client_key(participant_id),
        )

    def channel(self, participant_id: str) -> grpc.Channel:
        channel = self.server_connection(participant_id).channel()
        self.channels.append(channel)
        return channel

    def wallet(self, participant_id: str) -> WalletClient:
        connection = WalletConnection.from_files(
            self.address,
            self.pki.ca_cert,
            self.pki.client_cert(participant_id),
            self.pki.client_key(participant_id),
        )
        client = WalletClient(connection)
        self.clients.append(client)
        return client

    def lists(self, participant_id: str) -> reader_service_pb2_grpc.ReaderServiceStub:
        return reader_service_pb2_grpc.ReaderServiceStub(self.channel(participant_id))

    def list_sync(self, operator_id: str = METRO) -> ListSync:
        return ListSync(self.server_connection(operator_id), self.clearing_house_key)

    @property
    def clearing_house_key(self) -> Ed25519PublicKey:
        return load_signing_key(self.pki).public_key()

    def transfer_count(self) -> int:
        database = Database(self.database_url)
        try:
            with database.transaction() as session:
                count = session.scalar(select(func.count()).select_from(LedgerTransferRow))
        finally:
            database.dispose()
        return int(count or 0)

    def close(self) -> None:
        for client in self.clients:
            client.close()
        for channel in self.channels:
            channel.close()


def _admit(world: World, participant_id: str, role: int) -> None:
    registry = registry_service_pb2_grpc.RegistryServiceStub(world.channel(CLEARING_HOUSE))
    participant = registry_service_pb2.Participant(
        participant_id=participant_id,
        display_name=participant_id.title(),
        role=role,
        settlement_currency="SGD",
    )
    registry.RegisterParticipant(
        registry_service_pb2.RegisterParticipantRequest(participant=participant)
    )


def _populate(world: World) -> None:
    _admit(world, METRO, common_pb2.PARTICIPANT_ROLE_OPERATOR)
    _admit(world, TAPWALLET, common_pb2.PARTICIPANT_ROLE_ISSUER)
    _admit(world, PAYROUTE, common_pb2.PARTICIPANT_ROLE_ISSUER)
    fare = clearing_service_pb2.FlatFare(
        operator_id=METRO,
        mode=common_pb2.TRANSIT_MODE_METRO,
        fare=common_pb2.Money(minor_units=METRO_FARE, currency="SGD"),
    )
    clearing_service_pb2_grpc.ClearingServiceStub(world.channel(CLEARING_HOUSE)).SetFlatFare(
        clearing_service_pb2.SetFlatFareRequest(flat_fare=fare)
    )


@pytest.fixture
def world(pki: PkiLayout, database_url: str) -> Iterator[World]:
    server = start_server(
        ServerSettings(
            database_url=database_url,
            pki_dir=pki.directory,
            listen="127.0.0.1:0",
            clearing_house_id=CLEARING_HOUSE,
            max_workers=8,
        )
    )
    world = World(f"localhost:{server.port}", pki, database_url)
    try:
        _populate(world)
        yield world
    finally:
        world.close()
        server.stop(grace=None)


def in_a_year() -> datetime:
    return datetime.now(UTC) + timedelta(days=365)


def status_of(call: pytest.ExceptionInfo[grpc.RpcError]) -> grpc.StatusCode:
    code = call.value.code()  # type: ignore[attr-defined]  # grpc.Call behind RpcError
    assert isinstance(code, grpc.StatusCode)
    return code


def error_field(call: pytest.ExceptionInfo[grpc.RpcError]) -> str:
    """The ``field`` an ALREADY_EXISTS answer's google.rpc.ErrorInfo names."""
    status = rpc_status.from_call(call.value)  # type: ignore[arg-type]  # an RpcError is a Call
    assert status is not None
    info = error_details_pb2.ErrorInfo()
    assert any(detail.Unpack(info) for detail in status.details)
    return info.metadata["field"]
