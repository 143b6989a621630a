"""The demo: a city's day driven through the real server over mTLS.

Every step goes through a public interface: participants, readers and media
are registered over gRPC with each party's own certificate, taps travel
through the readers SDK, and the clearing house closes the cycle over gRPC.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import grpc

from clearing.pki import PkiLayout, init_pki
from clearing.server import ServerSettings, start_server
from farebridge.v1 import (
    clearing_service_pb2,
    clearing_service_pb2_grpc,
    common_pb2,
    registry_service_pb2,
    registry_service_pb2_grpc,
)
from readers import Reader, ServerConnection
from simulators._city import City, day_of_taps, demo_city

CLEARING_HOUSE = "clearing-house"
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class DemoResult:
    """What the demo did and the cycle it closed.

    positions: (participant, currency, gross credit, gross debit, net) rows.
    """

    taps: int
    accepted: int
    duplicates: int
    rejected: int
    cycle_number: int
    transfer_count: int
    positions: tuple[tuple[str, str, int, int, int], ...]

    def net_sums(self) -> dict[str, int]:
        sums: dict[str, int] = {}
        for _, currency, _, _, net in self.positions:
            sums[currency] = sums.get(currency, 0) + net
        return sums


class Participants:
    """One mTLS channel per participant, each with its own certificate."""

    def __init__(self, layout: PkiLayout, address: str) -> None:
        self._layout = layout
        self._address = address
        self._channels: dict[str, grpc.Channel] = {}

    def connection(self, participant_id: str) -> ServerConnection:
        return ServerConnection.from_files(
            self._address,
            self._layout.ca_cert,
            self._layout.client_cert(participant_id),
            self._layout.client_key(participant_id),
        )

    def channel(self, participant_id: str) -> grpc.Channel:
        if participant_id not in self._channels:
            self._channels[participant_id] = self.connection(participant_id).channel()
        return self._channels[participant_id]

    def registry(self, participant_id: str) -> registry_service_pb2_grpc.RegistryServiceStub:
        return registry_service_pb2_grpc.RegistryServiceStub(self.channel(participant_id))

    def clearing(self, participant_id: str) -> clearing_service_pb2_grpc.ClearingServiceStub:
        return clearing_service_pb2_grpc.ClearingServiceStub(self.channel(participant_id))

    def close(self) -> None:
        for channel in self._channels.values():
            channel.close()


def _admit(parties: Participants, city: City) -> None:
    registry = parties.registry(CLEARING_HOUSE)
    admissions = [
        (o.participant_id, o.display_name, common_pb2.PARTICIPANT_ROLE_OPERATOR, o.currency)
        for o in city.operators
    ] + [
        (i.participant_id, i.display_name, common_pb2.PARTICIPANT_ROLE_ISSUER, i.currency)
        for i in city.issuers
    ]
    for participant_id, name, role, currency in admissions:
        participant = registry_service_pb2.Participant(
            participant_id=participant_id,
            display_name=name,
            role=role,
            settlement_currency=currency,
        )
        registry.RegisterParticipant(
            registry_service_pb2.RegisterParticipantRequest(participant=participant)
        )
    clearing = parties.clearing(CLEARING_HOUSE)
    for operator in city.operators:
        fare = clearing_service_pb2.FlatFare(
            operator_id=operator.participant_id,
            mode=operator.mode,
            fare=common_pb2.Money(minor_units=operator.fare_minor, currency=operator.currency),
        )
        clearing.SetFlatFare(clearing_service_pb2.SetFlatFareRequest(flat_fare=fare))


def _install_readers(parties: Participants, city: City, state_dir: Path) -> dict[str, Reader]:
    readers: dict[str, Reader] = {}
    for operator in city.operators:
        registry = parties.registry(operator.participant_id)
        connection = parties.connection(operator.participant_id)
        for station in operator.stations:
            reader = Reader(station.device_id, state_dir / station.device_id, connection)
            device = registry_service_pb2.Device(
                device_id=station.device_id,
                public_key=reader.public_key,
                stop_id=station.stop_id,
                mode=operator.mode,
            )
            registry.RegisterDevice(registry_service_pb2.RegisterDeviceRequest(device=device))
            readers[station.device_id] = reader
    return readers


def _issue_media(parties: Participants, city: City) -> None:
    for rider in city.riders:
        medium = registry_service_pb2.Medium(medium_token=rider.medium_token)
        parties.registry(rider.issuer_id).RegisterMedium(
            registry_service_pb2.RegisterMediumRequest(medium=medium)
        )


def _upload_all(readers: Iterable[Reader], progress: Progress) -> tuple[int, int, int]:
    readers = list(readers)
    done = 0
    accepted = duplicates = rejected = 0
    with ThreadPoolExecutor(max_workers=8) as pool:
        for report in pool.map(lambda reader: reader.upload(), readers):
            done += 1
            accepted += report.accepted
            duplicates += report.duplicates
            rejected += report.rejected
            progress("uploading reader batches", done, len(readers))
    return accepted, duplicates, rejected


def run_demo(
    work_dir: Path, *, riders: int = 50, seed: int = 7, day: date, progress: Progress
) -> DemoResult:
    """Runs the whole demo in ``work_dir`` (PKI, SQLite file, reader queues)."""
    city = demo_city(riders, seed)
    participant_ids = [CLEARING_HOUSE] + [o.participant_id for o in city.operators]
    layout = init_pki(work_dir / "pki", participant_ids + [i.participant_id for i in city.issuers])
    server = start_server(
        ServerSettings(
            database_url=f"sqlite:///{work_dir / 'farebridge.db'}",
            pki_dir=layout.directory,
            listen="127.0.0.1:0",
            clearing_house_id=CLEARING_HOUSE,
        )
    )
    parties = Participants(layout, f"localhost:{server.port}")
    try:
        return _drive(parties, city, work_dir=work_dir, seed=seed, day=day, progress=progress)
    finally:
        parties.close()
        server.stop()


def _drive(
    parties: Participants,
    city: City,
    *,
    work_dir: Path,
    seed: int,
    day: date,
    progress: Progress,
) -> DemoResult:
    _admit(parties, city)
    readers = _install_readers(parties, city, work_dir / "readers")
    _issue_media(parties, city)
    taps = day_of_taps(city, day, seed)
    for index, tap in enumerate(taps, start=1):
        readers[tap.device_id].tap(tap.medium_token, tap.direction, tapped_at=tap.tapped_at)
        if index % 25 == 0 or index == len(taps):
            progress("riders tapping", index, len(taps))
    try:
        accepted, duplicates, rejected = _upload_all(readers.values(), progress)
    finally:
        for reader in readers.values():
            reader.close()
    closed = parties.clearing(CLEARING_HOUSE).CloseCycle(
        clearing_service_pb2.CloseCycleRequest(close_id=str(uuid.uuid4()))
    )
    cycle = closed.cycle
    positions = tuple(
        (p.participant_id, p.currency, p.gross_credit, p.gross_debit, p.net)
        for p in cycle.positions
    )
    return DemoResult(
        len(taps),
        accepted,
        duplicates,
        rejected,
        cycle.cycle_number,
        cycle.transfer_count,
        positions,
    )
