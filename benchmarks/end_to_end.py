"""End to end: sustained taps per second through gRPC with mTLS and signed
batches, into pricing and the ledger, on SQLite and PostgreSQL.

Each reader thread keeps up to four signed batches in flight on one
``SubmitTaps`` stream, as the readers SDK does, and times every batch from
send to acknowledgement. The server runs in its own process, as in
production. The ceiling, measured in the same run: the same pre-sealed
batches over the same mTLS transport to a bare grpcio server in its own
process that answers every batch at once and does nothing else. On SQLite,
whose writes leave from the server's own process, the report also shows
the KiB the server sent to storage per tap: the write-ahead log and its
checkpoints, where every index page a batch touches is written whole.

    .venv/bin/python benchmarks/end_to_end.py [--taps 200000] [--readers 8]
        [--batch 500] [--postgres postgresql://postgres@127.0.0.1:5432/test]
        [--skip-postgres] [--duration SECONDS] [--max-group-taps N [N ...]]
        [--without NAME ...]

Sustained mode, ``--duration SECONDS``: the readers seal fresh batches as
they go and keep submitting for that long; the server's resident memory is
sampled every ``--sample-every`` seconds, and the report adds taps/s minute
by minute and the memory series (first minute, last minute, peak, and the
slope over the second half), so both decay and growth show. The ceiling then
runs for ``--ceiling-duration`` seconds, its batches sealed the same way.

``--without NAME`` drops an index or trigger of the tap path after the server
has migrated and before any tap, as ``tap_storage.py`` does for storage
alone: what that index costs the whole tap path (queries that need it are
not on the path these readers drive).
"""

from __future__ import annotations

import argparse
import itertools
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from concurrent import futures
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

import grpc
from _postgres import scratch_schema
from _schema import drop_schema_items
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from clearing.pki import PkiLayout, init_pki
from clearing.storage import Database
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
    # Seconds since the start and taps answered, one per acknowledgement.
    acks: Sequence[tuple[float, int]] = ()
    # The server's memory and CPU time, sampled through the run.
    samples: Sequence[Sample] = ()
    # SQLite writes from the server's own process; PostgreSQL from its own.
    storage_in_process: bool = False

    @property
    def rate(self) -> float:
        return self.taps / self.seconds

    def percentile(self, q: int) -> float:
        return statistics.quantiles(self.latencies_ms, n=100)[q - 1]

    @property
    def written_kib_per_tap(self) -> float | None:
        """What the server sent to storage per tap answered, from the first
        sample to the last: the database's write amplification."""
        if not self.storage_in_process or len(self.samples) < 2 or not self.taps:
            return None
        return (self.samples[-1].written_bytes - self.samples[0].written_bytes) / 1024 / self.taps


def _connection(layout: PkiLayout, port: int, participant: str) -> ServerConnection:
    return ServerConnection.from_files(
        f"localhost:{port}",
        layout.ca_cert,
        layout.client_cert(participant),
        layout.client_key(participant),
    )


# A request with the number of taps it carries.
Batch = tuple[reader_service_pb2.SubmitTapsRequest, int]


def _sealed(device_id: str, key: Ed25519PrivateKey, sequences: range, start: datetime) -> Batch:
    """One signed batch of the device's taps with these sequence numbers."""
    batch = tap_pb2.TapBatch(device_id=device_id, batch_id=str(uuid.uuid4()))
    for sequence in sequences:
        tap = batch.taps.add(
            tap_id=f"{device_id}-{sequence}",
            device_sequence=sequence,
            medium_token=f"card-{sequence % MEDIA}",
            direction=common_pb2.TAP_DIRECTION_ON,
        )
        tap.tapped_at.FromDatetime(start + timedelta(milliseconds=sequence))
    batch.sealed_at.FromDatetime(start)
    signed = seal_batch(batch, key)
    return reader_service_pb2.SubmitTapsRequest(signed_batch=signed), len(sequences)


def _batches(device_id: str, taps: int, size: int, start: datetime) -> tuple[bytes, list[Batch]]:
    key = generate_device_key()
    requests = [
        _sealed(device_id, key, range(first + 1, min(taps, first + size) + 1), start)
        for first in range(0, taps, size)
    ]
    return public_key_bytes(key), requests


def _endless(device_id: str, size: int, start: datetime) -> tuple[bytes, Iterator[Batch]]:
    """Fresh batches for as long as they are asked for, sealed as they go."""
    key = generate_device_key()
    requests = (
        _sealed(device_id, key, range(first + 1, first + size + 1), start)
        for first in itertools.count(0, size)
    )
    return public_key_bytes(key), requests


Work = dict[str, Iterable[Batch]]


def _stream(
    channel: grpc.Channel,
    requests: Iterable[Batch],
    began: float,
    until: float,
) -> tuple[list[float], list[tuple[float, int]]]:
    """One reader's stream, IN_FLIGHT batches outstanding, sending until the
    batches run out or the clock passes ``until``; answers latencies and
    (seconds since ``began``, taps answered) per acknowledgement."""
    outbox: queue.SimpleQueue[Batch | None] = queue.SimpleQueue()
    sent: list[tuple[float, int]] = []

    def feed() -> Iterator[reader_service_pb2.SubmitTapsRequest]:
        while (batch := outbox.get()) is not None:
            request, taps = batch
            sent.append((time.perf_counter(), taps))
            yield request

    pending = iter(requests)
    for request in [next(pending, None) for _ in range(IN_FLIGHT)]:
        outbox.put(request)
    stub = reader_service_pb2_grpc.ReaderServiceStub(channel)
    latencies, acks = [], []
    for answered, _ in enumerate(stub.SubmitTaps(feed(), timeout=3600)):
        now = time.perf_counter()
        at, taps = sent[answered]
        latencies.append((now - at) * 1000)
        acks.append((now - began, taps))
        outbox.put(next(pending, None) if now < until else None)
    return latencies, acks


def _drive(
    name: str,
    layout: PkiLayout,
    port: int,
    work: Work,
    pid: int,
    *,
    duration: float | None = None,
    sample_every: float = 10.0,
) -> Run:
    """Runs every reader's stream to the end of its batches, or for
    ``duration`` seconds, sampling the server's memory meanwhile."""
    channels = [_connection(layout, port, OPERATOR).channel() for _ in work]
    began = time.perf_counter()
    until = began + duration if duration is not None else float("inf")
    sampler = _RssSampler(pid, began, sample_every)
    sampler.start()
    try:
        with futures.ThreadPoolExecutor(len(work)) as pool:
            results = list(pool.map(_stream, channels, work.values(),
                                    itertools.repeat(began), itertools.repeat(until)))  # fmt: skip
        seconds = time.perf_counter() - began
    finally:
        sampler.stop()
    for channel in channels:
        channel.close()
    latencies = [latency for result, _ in results for latency in result]
    acks = sorted(ack for _, answered in results for ack in answered)
    taps = sum(count for _, count in acks)
    return Run(name, taps, seconds, latencies, _peak_rss_mib(pid), acks, sampler.samples)


class Sample(NamedTuple):
    at: float  # seconds since the start
    rss_mib: float  # VmRSS
    cpu_seconds: float  # user and system time so far
    written_bytes: int  # bytes sent to storage so far (write-ahead log and database)


def _status_mib(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _peak_rss_mib(pid: int) -> float:
    """The process's peak resident memory (VmHWM), read before it stops."""
    return _status_mib(pid, "VmHWM")


def _written_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("write_bytes:"):
            return int(line.split()[1])
    return 0


def _cpu_seconds(pid: int) -> float:
    # utime and stime, fields 14 and 15, after the parenthesised command name.
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _RssSampler(threading.Thread):
    """Reads the process's resident memory (VmRSS) and CPU time at once and
    every ``every`` seconds until stopped, and once more when stopped."""

    def __init__(self, pid: int, began: float, every: float) -> None:
        super().__init__(daemon=True)
        self._pid, self._began, self._every = pid, began, every
        self._stopped = threading.Event()
        self.samples: list[Sample] = []

    def _sample(self) -> None:
        try:
            rss, cpu = _status_mib(self._pid, "VmRSS"), _cpu_seconds(self._pid)
            written = _written_bytes(self._pid)
        except OSError:  # the process is gone
            return
        self.samples.append(Sample(time.perf_counter() - self._began, rss, cpu, written))

    def run(self) -> None:
        self._sample()
        while not self._stopped.wait(self._every):
            self._sample()

    def stop(self) -> None:
        self._stopped.set()
        self.join()
        self._sample()


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
    name: str,
    database_url: str,
    layout: PkiLayout,
    folder: Path,
    args: argparse.Namespace,
    *,
    max_group_taps: int | None,
) -> Run:
    start = datetime.now(UTC) - timedelta(days=1)
    clock = SimulatedClock(folder / f"{name}.clock")
    # Taps are a millisecond apart, so a long run needs a late clock: no tap
    # may be ahead of it by more than the allowed skew.
    clock.set(start + timedelta(hours=1 if args.duration is None else 12))
    server = ServerProcess(
        database_url, layout.directory, folder / f"{name}.clock", max_group_taps=max_group_taps
    )
    server.start()
    try:
        if args.without:  # the server has migrated the schema; no tap has come yet
            database = Database(database_url)
            try:
                drop_schema_items(database, args.without)
            finally:
                database.dispose()
        work: Work = {}
        keys: dict[str, bytes] = {}
        for n in range(args.readers):
            device_id = f"gate-{n}"
            keys[device_id], work[device_id] = _work(device_id, args, start)
        _populate(layout, server.port, keys)
        run = _drive(name, layout, server.port, work, server.pid,
                     duration=args.duration, sample_every=args.sample_every)  # fmt: skip
        return replace(run, storage_in_process=database_url.startswith("sqlite"))
    finally:
        server.stop()


def _work(
    device_id: str, args: argparse.Namespace, start: datetime
) -> tuple[bytes, Iterable[Batch]]:
    """A reader's batches: all sealed up front, or endless for a timed run."""
    if args.duration is None:
        return _batches(device_id, args.taps // args.readers, args.batch, start)
    return _endless(device_id, args.batch, start)


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
        work = {f"gate-{n}": _work(f"gate-{n}", args, start)[1] for n in range(args.readers)}
        duration = None if args.duration is None else args.ceiling_duration
        return _drive("bare grpcio (ceiling)", layout, port, work, bare.pid,
                      duration=duration, sample_every=args.sample_every)  # fmt: skip
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


def _report(runs: Sequence[Run], ceiling: Run) -> None:
    width = max(len(run.name) for run in (*runs, ceiling)) + 2
    print(f"{'run':<{width}}{'taps':>9}{'taps/s':>10}{'of ceiling':>12}"
          f"{'p50 ms':>9}{'p99 ms':>9}{'peak MiB':>10}{'KiB/tap written':>17}")  # fmt: skip
    for run in (*runs, ceiling):
        written = run.written_kib_per_tap
        print(
            f"{run.name:<{width}}{run.taps:>9}{run.rate:>10.0f}{run.rate / ceiling.rate:>12.1%}"
            f"{run.percentile(50):>9.1f}{run.percentile(99):>9.1f}{run.peak_rss_mib:>10.0f}"
            f"{'—' if written is None else f'{written:.1f}':>17}"
        )


def _slope_per_minute(samples: Sequence[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MiB), in MiB per minute."""
    if len(samples) < 2:
        return float("nan")
    mean_t = statistics.fmean(t for t, _ in samples)
    mean_m = statistics.fmean(m for _, m in samples)
    spread = sum((t - mean_t) ** 2 for t, _ in samples)
    if spread == 0:
        return float("nan")
    return 60 * sum((t - mean_t) * (m - mean_m) for t, m in samples) / spread


def _report_sustained(run: Run) -> None:
    """Taps/s, the server's peak memory and its CPU use (100% is one core)
    minute by minute, and a summary of the memory series."""
    print(f"\n{run.name}, sustained for {run.seconds:.0f} s")
    minutes: dict[int, int] = {}
    for at, count in run.acks:
        minutes[int(at // 60)] = minutes.get(int(at // 60), 0) + count
    print(f"{'minute':>8}{'taps/s':>10}{'RSS MiB':>10}{'CPU':>8}")
    for minute in sorted(minutes):
        span = min(60.0, run.seconds - 60 * minute)
        within = [s for s in run.samples if 60 * minute <= s.at <= 60 * (minute + 1)]
        shown = f"{'':>18}"
        if len(within) >= 2:
            cpu = (within[-1].cpu_seconds - within[0].cpu_seconds) / (within[-1].at - within[0].at)
            shown = f"{max(s.rss_mib for s in within):>10.0f}{cpu:>8.0%}"
        print(f"{minute + 1:>8}{minutes[minute] / span:>10.0f}{shown}")
    if not run.samples:
        return
    end = run.samples[-1].at
    first = [s.rss_mib for s in run.samples if s.at < 60]
    last = [s.rss_mib for s in run.samples if s.at >= end - 60]
    second_half = [(s.at, s.rss_mib) for s in run.samples if s.at >= end / 2]
    print(
        f"RSS ({len(run.samples)} samples): first minute {statistics.fmean(first):.0f} MiB, "
        f"last minute {statistics.fmean(last):.0f} MiB, "
        f"peak {max(s.rss_mib for s in run.samples):.0f} MiB (VmHWM {run.peak_rss_mib:.0f}), "
        f"slope over the second half {_slope_per_minute(second_half):+.2f} MiB/min"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--taps", type=int, default=200_000)
    parser.add_argument("--readers", type=int, default=8)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--duration", type=float, help="sustained run of this many seconds")
    parser.add_argument("--sample-every", type=float, default=10.0, help="RSS sample period, s")
    parser.add_argument("--ceiling-duration", type=float, default=60.0,
                        help="with --duration: seconds to measure the ceiling for")  # fmt: skip
    parser.add_argument("--max-group-taps", type=int, nargs="+", default=[None],
                        help="the server's group commit limit (default: the server's own, "
                             "4000 on SQLite, 1 on PostgreSQL); several values run each in "
                             "turn, for a same-run comparison")  # fmt: skip
    parser.add_argument("--without", action="append", default=[], metavar="NAME",
                        help="drop this index or trigger before the readers start, to price "
                             "it end to end (repeatable)")  # fmt: skip
    parser.add_argument("--bare-server", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--pki", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_server:
        _bare_server(args.bare_server, args.pki)
        return
    with tempfile.TemporaryDirectory(prefix="farebridge-e2e-") as scratch:
        folder = Path(scratch)
        layout = init_pki(folder / "pki", [HOUSE, OPERATOR, ISSUER])
        runs: list[Run] = []
        for number, group in enumerate(args.max_group_taps):
            shown = "" if group is None else f", groups of {group:,} taps"
            shown += f", without {', '.join(args.without)}" if args.without else ""
            database = folder / f"e2e-{number}.db"
            runs.append(_farebridge(f"farebridge on SQLite{shown}", f"sqlite:///{database}",
                                    layout, folder, args, max_group_taps=group))  # fmt: skip
            if not args.skip_postgres:
                with scratch_schema(args.postgres) as url:
                    name = f"farebridge on PostgreSQL{shown}"
                    runs.append(_farebridge(name, url, layout, folder, args, max_group_taps=group))
        ceiling = _ceiling(layout, args)
    _report(runs, ceiling)
    if args.duration is not None:
        for run in runs:
            _report_sustained(run)


if __name__ == "__main__":
    main()
