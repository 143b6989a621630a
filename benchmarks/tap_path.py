"""The tap path's CPU per tap, in one thread: what the server does for a
signed batch between the gRPC layer's bytes in and its bytes out.

Each batch is parsed, its signature checked, its taps validated and
hashed, stored and priced into the ledger, and its answer serialized, as
``SubmitTaps`` does, on SQLite, one transaction per batch. There is no
gRPC, no second thread and no other process, so the figure holds still
from run to run (about 3% apart) where ``end_to_end.py`` moves by 5-10%
with the machine: measure a change to the tap path's own code here first,
then end to end. The garbage collector is tuned as a serving process tunes
it (``tune_collector_for_serving``).

Each run is a process of its own, on a new database; the report shows each
and the best.

    .venv/bin/python benchmarks/tap_path.py [--batches 400] [--batch 500] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from end_to_end import ISSUER, MEDIA, OPERATOR, _sealed

from clearing.fares import set_flat_fare
from clearing.ingest import Ingestor
from clearing.registry import register_device, register_medium, register_participant
from clearing.server import tune_collector_for_serving
from clearing.server._convert import submit_taps_response
from clearing.storage import Database
from clearing.values import Device, Mode, Money, Participant, Role
from farebridge.codecs import generate_device_key, public_key_bytes
from farebridge.v1 import reader_service_pb2

READERS, WARM_UP = 8, 16
START = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)


def _database(folder: Path, keys: dict[str, Ed25519PrivateKey]) -> Database:
    database = Database(f"sqlite:///{folder / 'tap-path.db'}")
    database.migrate()
    with database.transaction() as session:
        register_participant(session, Participant(OPERATOR, "Metro", Role.OPERATOR, "EUR"), START)
        register_participant(session, Participant(ISSUER, "Tapcard", Role.ISSUER, "EUR"), START)
        for device_id, key in keys.items():
            device = Device(
                device_id,
                OPERATOR,
                public_key_bytes(key),
                f"{device_id}-stop",
                Mode.METRO,
            )
            register_device(session, device, START)
        set_flat_fare(session, OPERATOR, Mode.METRO, Money(180, "EUR"), START)
        for n in range(MEDIA):
            register_medium(session, f"card-{n}", ISSUER, START)
    return database


def _requests(keys: dict[str, Ed25519PrivateKey], batches: int, size: int) -> list[bytes]:
    """Serialized ``SubmitTapsRequest``s as ``end_to_end.py`` sends them,
    readers in turn, riders in turn."""
    requests = []
    for number in range(batches):
        device_id = f"gate-{number % READERS}"
        first = (number // READERS) * size
        request, _ = _sealed(device_id, keys[device_id], range(first + 1, first + size + 1), START)
        requests.append(request.SerializeToString())
    return requests


def _run(batches: int, size: int) -> float:
    """Microseconds of CPU per tap over ``batches`` batches, after a warm-up."""
    keys: dict[str, Ed25519PrivateKey] = {
        f"gate-{n}": generate_device_key() for n in range(READERS)
    }
    with tempfile.TemporaryDirectory(prefix="farebridge-tap-path-") as scratch:
        database = _database(Path(scratch), keys)
        try:
            requests = _requests(keys, WARM_UP + batches, size)
            ingestor = Ingestor(database, lambda: START + timedelta(hours=12))

            def serve(raw: bytes) -> bytes:
                request = reader_service_pb2.SubmitTapsRequest.FromString(raw)
                outcome = ingestor.ingest(OPERATOR, request.signed_batch)
                return submit_taps_response(outcome.batch_id, outcome.outcomes).SerializeToString()

            for raw in requests[:WARM_UP]:
                serve(raw)
            tune_collector_for_serving()
            began = time.process_time()
            for raw in requests[WARM_UP:]:
                serve(raw)
            return (time.process_time() - began) * 1e6 / (batches * size)
        finally:
            database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=400, help="batches timed per run")
    parser.add_argument("--batch", type=int, default=500, help="taps per batch")
    parser.add_argument("--repeat", type=int, default=3, help="runs, each in a new process")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:  # one run in this process, as the process that serves would be
        print(_run(args.batches, args.batch))
        return
    figures = []
    for number in range(1, args.repeat + 1):
        command = [sys.executable, __file__, "--one", "--batches", str(args.batches),
                   "--batch", str(args.batch)]  # fmt: skip
        figures.append(float(subprocess.run(command, check=True, capture_output=True,
                                            text=True).stdout))  # fmt: skip
        print(
            f"run {number}: {figures[-1]:6.2f} µs of CPU per tap ({1e6 / figures[-1]:,.0f} taps/s)"
        )
    print(
        f"best {min(figures):.2f} µs/tap, median {statistics.median(figures):.2f} µs/tap "
        f"over {args.batches * args.batch:,} taps per run"
    )


if __name__ == "__main__":
    main()
