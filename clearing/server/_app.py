"""Assembling and starting the server."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from clearing import registry
from clearing.fares._repricing import TariffPricer
from clearing.fares.period import load_tariff
from clearing.ingest import MAX_BATCH_BYTES, Ingestor
from clearing.ledger import LedgerLog, fold_totals, ledger_origin
from clearing.pki import PkiLayout, load_signing_key
from clearing.server._audit import AuditServicer
from clearing.server._auth import AuthInterceptor, ParticipantDirectory
from clearing.server._errors import ErrorInterceptor
from clearing.server._services import ClearingServicer, ReaderServicer, RegistryServicer
from clearing.server._text import TextInterceptor
from clearing.server._wallets import ReaderLists, WalletServicer
from clearing.settlement import CycleSchedule, SettlementDesk
from clearing.storage import Database
from clearing.storage._runs import Upkeep
from clearing.values import Participant, Role
from farebridge.v1 import (
    audit_service_pb2,
    audit_service_pb2_grpc,
    clearing_service_pb2,
    clearing_service_pb2_grpc,
    reader_service_pb2,
    reader_service_pb2_grpc,
    registry_service_pb2,
    registry_service_pb2_grpc,
    wallet_service_pb2,
    wallet_service_pb2_grpc,
)

log = logging.getLogger(__name__)

# Room for the SubmitTapsRequest envelope around a maximal batch; anything
# larger is refused by gRPC itself with RESOURCE_EXHAUSTED before parsing.
MAX_MESSAGE_BYTES = MAX_BATCH_BYTES + 64 * 1024

SERVICE_NAMES = (
    reader_service_pb2.DESCRIPTOR.services_by_name["ReaderService"].full_name,
    registry_service_pb2.DESCRIPTOR.services_by_name["RegistryService"].full_name,
    clearing_service_pb2.DESCRIPTOR.services_by_name["ClearingService"].full_name,
    audit_service_pb2.DESCRIPTOR.services_by_name["AuditService"].full_name,
    wallet_service_pb2.DESCRIPTOR.services_by_name["WalletService"].full_name,
)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ServerSettings:
    """How to run one server.

    database_url: SQLite file or PostgreSQL URL.
    pki_dir: folder made by ``farebridge pki init``.
    listen: host:port; port 0 picks a free one.
    clearing_house_id: the clearing house's certificate name, admitted at start.
    tariff_dir: a tariff (GTFS-Fares v2 feed plus farebridge.toml) to price
        capping periods with; without one, flat fares per operator and mode.
    currency: the clearing house's settlement currency.
    cycle_schedule: scheduled cut-offs; a close that names no cut-off ends
        at the latest one. Without a schedule, a cycle ends when closed.
    max_group_taps: reader batches that wait for the database are stored in
        one transaction, up to this many taps (1 stores each batch alone);
        None: 4,000 on SQLite, 1 on PostgreSQL (see ``Ingestor``).
    """

    database_url: str
    pki_dir: Path
    listen: str = "127.0.0.1:50051"
    clearing_house_id: str = "clearing-house"
    currency: str = "SGD"
    max_workers: int = 16
    tariff_dir: Path | None = None
    cycle_schedule: CycleSchedule | None = None
    max_group_taps: int | None = None
    clock: Callable[[], datetime] = field(default=utc_now)


@dataclass
class RunningServer:
    server: grpc.Server
    port: int
    database: Database
    health: health.HealthServicer
    log: LedgerLog
    upkeep: Upkeep

    def stop(self, grace: float | None = 2.0) -> None:
        self.health.enter_graceful_shutdown()
        self.server.stop(grace).wait()
        self.upkeep.stop()
        self.database.dispose()

    def wait(self) -> None:
        self.server.wait_for_termination()


def _server_credentials(layout: PkiLayout) -> grpc.ServerCredentials:
    return grpc.ssl_server_credentials(
        [(layout.server_key.read_bytes(), layout.server_cert.read_bytes())],
        root_certificates=layout.ca_cert.read_bytes(),
        require_client_auth=True,
    )


def _admit_clearing_house(database: Database, settings: ServerSettings) -> None:
    house = Participant(
        settings.clearing_house_id, "Clearing house", Role.CLEARING_HOUSE, settings.currency
    )
    with database.transaction() as session:
        registry.ensure_participant(session, house, settings.clock())


def start_server(settings: ServerSettings) -> RunningServer:
    """Migrates the database, admits the clearing house and starts serving."""
    layout = PkiLayout(settings.pki_dir)
    database = Database(settings.database_url)
    database.migrate()
    _admit_clearing_house(database, settings)
    directory = ParticipantDirectory(database)
    signing_key = load_signing_key(layout)
    ledger_log = LedgerLog(database, ledger_origin(settings.clearing_house_id), signing_key)
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=settings.max_workers),
        interceptors=[AuthInterceptor(directory), TextInterceptor(), ErrorInterceptor()],
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.so_reuseport", 0),
        ],
    )
    tariff = TariffPricer(load_tariff(settings.tariff_dir)) if settings.tariff_dir else None
    ingestor = Ingestor(database, settings.clock, tariff, max_group_taps=settings.max_group_taps)
    reader_service_pb2_grpc.add_ReaderServiceServicer_to_server(
        ReaderServicer(ingestor, directory, ReaderLists(database, signing_key)), server
    )
    wallet_service_pb2_grpc.add_WalletServiceServicer_to_server(
        WalletServicer(database, directory, settings.clock, ingestor), server
    )
    registry_service_pb2_grpc.add_RegistryServiceServicer_to_server(
        RegistryServicer(database, directory, settings.clock), server
    )
    clearing_service_pb2_grpc.add_ClearingServiceServicer_to_server(
        ClearingServicer(
            database, directory, ledger_log, settings.clock, ingestor,
            desk=SettlementDesk(database, ledger_log, signing_key, settings.clock),
            schedule=settings.cycle_schedule,
        ),
        server,
    )  # fmt: skip
    audit_service_pb2_grpc.add_AuditServiceServicer_to_server(
        AuditServicer(database, ledger_log, settings.clock, directory), server
    )
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (*SERVICE_NAMES, health.SERVICE_NAME, reflection.SERVICE_NAME), server
    )
    port = server.add_secure_port(settings.listen, _server_credentials(layout))
    if port == 0:
        database.dispose()
        raise OSError(f"cannot listen on {settings.listen}")
    server.start()
    upkeep = Upkeep(database, [fold_totals])
    upkeep.start()
    for name in ("", *SERVICE_NAMES):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    log.info("farebridge listening on port %d", port)
    return RunningServer(server, port, database, health_servicer, ledger_log, upkeep)
