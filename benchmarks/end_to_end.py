"""End to end: sustained taps per second through gRPC with mTLS and signed
batches, into pricing and the ledger, on SQLite and PostgreSQL.

Each reader thread keeps up to four signed batches in flight on one
``SubmitTaps`` stream, as the readers SDK does, and times every batch from
send to acknowledgement. The server runs in its own process, as in
production. The ceiling, measured in the same run: the same pre-sealed
batches over the same mTLS transport to a bare grpcio server in its own
process that answers every batch at once and does nothing else.

    .venv/bin/python benchmarks/end_to_end.py [--taps 200000] [--readers 8]
        [--batch 500] [--postgres postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import queue
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from concurrent import futures
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from clearing.pki import PkiLayout, init_pki
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
from readers import ServerConnection
from simulators._server import ServerProcess, SimulatedClock, free_port

HOUSE, OPERATOR, ISSUER = "clearing-house", "metro-co", "tapcard"
MEDIA = 5_000
IN_FLIGHT = 4
_RESPONSE = reader_service_pb2.SubmitTapsResponse.SerializeToString


@dataclass(frozen=True)
class Run:
    name: str
    taps: int
    seconds: float
    latencies_ms: list[float]
    peak_rss_mib: float

    @property
    def rate(self) -> float:
        return self.taps / self.seconds

    def percentile(self, q: int) -> float:
        return statistics.quantiles(self.latencies_ms, n=100)[q - 1]


def _connection(layout: PkiLayout, port: int, participant: str) -> ServerConnection:
    return ServerConnection.from_files(
        f"localhost:{port}",
        layout.ca_cert,
        layout.client_cert(participant),
        layout.client_key(participant),
    )


def _batches(
    device_id: str, taps: int, size: int, start: datetime
) -> tuple[bytes, list[reader_service_pb2.SubmitTapsRequest]]:
    key = generate_device_key()
    requests = []
    for first in range(0, taps, size):
        batch = tap_pb2.TapBatch(device_id=device_id, batch_id=str(uuid.uuid4()))
        for sequence in range(first + 1, min(taps, first + size) + 1):
            tap = batch.taps.add(
                tap_id=f"{device_id}-{sequence}",
                device_sequence=sequence,
                medium_token=f"card-{sequence % MEDIA}",
                direction=common_pb2.TAP_DIRECTION_ON,
            )
            tap.tapped_at.FromDatetime(start + timedelta(milliseconds=sequence))
        batch.sealed_at.FromDatetime(start)
        requests.append(reader_service_pb2.SubmitTapsRequest(signed_batch=seal_batch(batch, key)))
    return public_key_bytes(key), requests


def _stream(
    channel: grpc.Channel, requests: Sequence[reader_service_pb2.SubmitTapsRequest]
) -> list[float]:
    """One reader's stream, IN_FLIGHT batches outstanding; answers latencies."""
    outbox: queue.SimpleQueue[reader_service_pb2.SubmitTapsRequest | None] = queue.SimpleQueue()
    sent: list[float] = []

    def feed() -> Iterator[reader_service_pb2.SubmitTapsRequest]:
        while (request := outbox.get()) is not None:
            sent.append(time.perf_counter())
            yield request

    pending = iter(requests)
    for request in [next(pending, None) for _ in range(IN_FLIGHT)]:
        outbox.put(request)
    stub = reader_service_pb2_grpc.ReaderServiceStub(channel)
    latencies = []
    for answered, _ in enumerate(stub.SubmitTaps(feed(), timeout=3600)):
        latencies.append((time.perf_counter() - sent[answered]) * 1000)
        outbox.put(next(pending, None))
    return latencies


def _drive(
    name: str,
    layout: PkiLayout,
    port: int,
    work: dict[str, list[reader_service_pb2.SubmitTapsRequest]],
    pid: int,
) -> Run:
    channels = [_connection(layout, port, OPERATOR).channel() for _ in work]
    began = time.perf_counter()
    with futures.ThreadPoolExecutor(len(work)) as pool:
        results = list(pool.map(_stream, channels, work.values()))
    seconds = time.perf_counter() - began
    for channel in channels:
        channel.close()
    taps = sum(len(tap_pb2.TapBatch.FromString(r.signed_batch.batch).taps)
               for requests in work.values() for r in requests)  # fmt: skip
    latencies = [latency for result in results for latency in result]
    return Run(name, taps, seconds, latencies, _peak_rss_mib(pid))


def _peak_rss_mib(pid: int) -> float:
    """The process's peak resident memory (VmHWM), read before it stops."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _populate(layout: PkiLayout, port: int, keys: dict[str, bytes]) -> None:
    def stubs(participant: str) -> grpc.Channel:
        return _connection(layout, port, participant).channel()

    with stubs(HOUSE) as house, stubs(OPERATOR) as operator, stubs(ISSUER) as issuer:
        registry = registry_service_pb2_grpc.RegistryServiceStub(house)
        for participant, role in ((OPERATOR, common_pb2.PARTICIPANT_ROLE_OPERATOR),
                                  (ISSUER, common_pb2.PARTICIPANT_ROLE_ISSUER)):  # fmt: skip
            registry.RegisterParticipant(
                registry_service_pb2.RegisterParticipantRequest(
                    participant=registry_service_pb2.Participant(
                        participant_id=participant, display_name=participant, role=role,
                        settlement_currency="EUR",
                    )
                )
            )  # fmt: skip
        clearing_service_pb2_grpc.ClearingServiceStub(house).SetFlatFare(
            clearing_service_pb2.SetFlatFareRequest(
                flat_fare=clearing_service_pb2.FlatFare(
                    operator_id=OPERATOR, mode=common_pb2.TRANSIT_MODE_METRO,
                    fare=common_pb2.Money(minor_units=180, currency="EUR"),
                )
            )
        )  # fmt: skip
        own = registry_service_pb2_grpc.RegistryServiceStub(operator)
        for device_id, public_key in keys.items():
            device = registry_service_pb2.Device(
                device_id=device_id, public_key=public_key, stop_id=f"{device_id}-stop",
                mode=common_pb2.TRANSIT_MODE_METRO,
            )  # fmt: skip
            own.RegisterDevice(registry_service_pb2.RegisterDeviceRequest(device=device))
        media = registry_service_pb2_grpc.RegistryServiceStub(issuer)
        for n in range(MEDIA):
            medium = registry_service_pb2.Medium(medium_token=f"card-{n}")
            media.RegisterMedium(registry_service_pb2.RegisterMediumRequest(medium=medium))


def _farebridge(
    name: str, database_url: str, layout: PkiLayout, folder: Path, args: argparse.Namespace
) -> Run:
    start = datetime.now(UTC) - timedelta(days=1)
    clock = SimulatedClock(folder / f"{name}.clock")
    clock.set(start + timedelta(hours=1))
    server = ServerProcess(database_url, layout.directory, folder / f"{name}.clock")
    server.start()
    try:
        work: dict[str, list[reader_service_pb2.SubmitTapsRequest]] = {}
        keys: dict[str, bytes] = {}
        for n in range(args.readers):
            device_id = f"gate-{n}"
            keys[device_id], work[device_id] = _batches(
                device_id, args.taps // args.readers, args.batch, start
            )
        _populate(layout, server.port, keys)
        return _drive(name, layout, server.port, work, server.pid)
    finally:
        server.stop()


def _ceiling(layout: PkiLayout, args: argparse.Namespace) -> Run:
    port = free_port()
    bare = subprocess.Popen(  # this very script, with our own arguments
        [sys.executable, __file__, "--bare-server", str(port), "--pki", str(layout.directory)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert bare.stdout is not None
    bare.stdout.readline()
    try:
        start = datetime.now(UTC) - timedelta(days=1)
        work = {
            f"gate-{n}": _batches(f"gate-{n}", args.taps // args.readers, args.batch, start)[1]
            for n in range(args.readers)
        }
        return _drive("bare grpcio (ceiling)", layout, port, work, bare.pid)
    finally:
        bare.terminate()
        bare.wait()
        bare.stdout.close()


def _bare_server(port: int, pki_dir: Path) -> None:
    """Answers every request of every stream with an empty response."""
    layout = PkiLayout(pki_dir)

    def submit(requests: Iterator[bytes], _context: grpc.ServicerContext) -> Iterator[bytes]:
        for _ in requests:
            yield b""

    handler = grpc.method_handlers_generic_handler(
        "farebridge.v1.ReaderService",
        {"SubmitTaps": grpc.stream_stream_rpc_method_handler(submit)},
    )
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=32),
        handlers=[handler],
        options=[("grpc.max_receive_message_length", 2 * 1024 * 1024)],
    )
    credentials = grpc.ssl_server_credentials(
        [(layout.server_key.read_bytes(), layout.server_cert.read_bytes())],
        root_certificates=layout.ca_cert.read_bytes(),
        require_client_auth=True,
    )
    server.add_secure_port(f"127.0.0.1:{port}", credentials)
    server.start()
    print("serving", flush=True)
    server.wait_for_termination()


def _postgres_schema(admin_url: str) -> tuple[str, str]:
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    url = make_url(admin_url.replace("postgresql://", "postgresql+psycopg://", 1))
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    scoped = url.update_query_dict({"options": f"-csearch_path={schema}"})
    return schema, scoped.render_as_string(hide_password=False)


def _drop_schema(admin_url: str, schema: str) -> None:
    url = make_url(admin_url.replace("postgresql://", "postgresql+psycopg://", 1))
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


def _report(runs: Sequence[Run], ceiling: Run) -> None:
    print(f"{'run':<24}{'taps':>9}{'taps/s':>10}{'of ceiling':>12}"
          f"{'p50 ms':>9}{'p99 ms':>9}{'peak MiB':>10}")  # fmt: skip
    for run in (*runs, ceiling):
        print(
            f"{run.name:<24}{run.taps:>9}{run.rate:>10.0f}{run.rate / ceiling.rate:>12.1%}"
            f"{run.percentile(50):>9.1f}{run.percentile(99):>9.1f}{run.peak_rss_mib:>10.0f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--taps", type=int, default=200_000)
    parser.add_argument("--readers", type=int, default=8)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--bare-server", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--pki", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_server:
        _bare_server(args.bare_server, args.pki)
        return
    with tempfile.TemporaryDirectory(prefix="farebridge-e2e-") as scratch:
        folder = Path(scratch)
        layout = init_pki(folder / "pki", [HOUSE, OPERATOR, ISSUER])
        runs = [_farebridge("farebridge on SQLite", f"sqlite:///{folder / 'e2e.db'}", layout,
                            folder, args)]  # fmt: skip
        if not args.no_postgres:
            schema, url = _postgres_schema(args.postgres)
            try:
                runs.append(_farebridge("farebridge on PostgreSQL", url, layout, folder, args))
            finally:
                _drop_schema(args.postgres, schema)
        ceiling = _ceiling(layout, args)
    _report(runs, ceiling)


if __name__ == "__main__":
    main()
