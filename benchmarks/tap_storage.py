"""Tap storage: how many taps per second the database alone takes, as it grows.

Every tap that ingest accepts writes one journal row (``taps``) and one fare
transfer (``ledger_transfers``). This writes exactly those rows, through the
writers ingest itself uses (``append_taps``, ``insert_transfers``), into a
database migrated to the current schema, one transaction per batch, with
nothing else: no gRPC, no signature, no validation, no pricing, no ledger
decision. Its rate is the ceiling that storage puts on end-to-end taps/s at
each size; whatever the rest of the tap path costs comes on top.

The riders' and revenue accounts exist before the clock starts. Eight
readers take turns, each with its own rising sequence; riders come round
in turn, as in ``end_to_end.py``. Each block of ``--report-every`` taps
prints its rate and, on SQLite, the bytes this process sent to storage per
tap (write-ahead log and checkpoints): SQLite writes every B-tree page a
transaction touches, so a secondary index whose keys arrive in random
order costs about a 4 KiB page per tap. The two per-rider lookups are kept
off the tap path on SQLite for that reason, and their upkeep (the runs of
``clearing/storage/_runs.py``, the totals of ``clearing/ledger/_totals.py``)
runs on a thread beside the writer, as in ``farebridge serve``, so its
cost is counted here. ``--without NAME`` drops a secondary index or a
trigger first, to price it alone; ``--sqlite-cache-mib`` sets the page
cache.

    .venv/bin/python benchmarks/tap_storage.py [--taps 600000] [--batch 500]
        [--report-every 100000] [--skip-postgres]
        [--postgres postgresql://postgres@127.0.0.1:5432/test]
        [--without ix_ledger_transfers_user_data] [--sqlite-cache-mib 64]
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _postgres import scratch_schema
from _schema import drop_schema_items
from sqlalchemy import event

from clearing.ingest._journal import JournalRow, append_taps
from clearing.ledger import (
    AccountCode,
    AccountRef,
    Transfer,
    TransferFlags,
    account_id_for,
    ensure_accounts,
    fare_transfer_id,
    fold_totals,
)
from clearing.ledger._driver import insert_transfers
from clearing.registry import register_device, register_participant
from clearing.storage import Database
from clearing.storage._runs import Upkeep
from clearing.values import Device, Mode, Participant, Role

OPERATOR, ISSUER, CURRENCY = "metro-co", "tapcard", "HKD"
READERS = 8
MEDIA = 5_000
FARE = 250


def _written_bytes() -> int:
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("write_bytes:"):
            return int(line.split()[1])
    return 0


def _rider(sequence: int) -> tuple[str, AccountRef]:
    token = f"card-{sequence % MEDIA}"
    return token, AccountRef(ISSUER, AccountCode.RIDER_FUNDS, CURRENCY, token)


def _prepare(database: Database, start: datetime) -> None:
    database.migrate()
    with database.transaction() as session:
        register_participant(
            session, Participant(OPERATOR, "Metro", Role.OPERATOR, CURRENCY), start
        )
        register_participant(session, Participant(ISSUER, "Tapcard", Role.ISSUER, CURRENCY), start)
        for reader in range(READERS):
            device = Device(f"gate-{reader}", OPERATOR, bytes(32), f"stop-{reader}", Mode.METRO)
            register_device(session, device, start)
    revenue = AccountRef(OPERATOR, AccountCode.FARE_REVENUE, CURRENCY)
    with database.transaction() as session:
        ensure_accounts(session, [revenue, *(_rider(n)[1] for n in range(MEDIA))], start)


def _batch(
    reader: int, sequences: range, start: datetime, now: datetime
) -> tuple[list[JournalRow], list[Transfer]]:
    """One batch's journal rows and fare transfers, as ingest would write them."""
    device_id, batch_id = f"gate-{reader}", str(uuid.uuid4())
    revenue = account_id_for(AccountRef(OPERATOR, AccountCode.FARE_REVENUE, CURRENCY))
    taps: list[JournalRow] = []
    transfers: list[Transfer] = []
    for sequence in sequences:
        tap_id = f"{device_id}-{sequence}"
        token, rider = _rider(sequence)
        tapped_at = start + timedelta(milliseconds=sequence)
        digest = hashlib.sha256(tap_id.encode()).digest()
        taps.append(
            (tap_id, device_id, OPERATOR, sequence, tapped_at, token, "on", batch_id, now, digest)
        )
        transfers.append(
            Transfer(
                fare_transfer_id(device_id, sequence, tap_id), account_id_for(rider), revenue,
                FARE, CURRENCY, "fare", tap_id, TransferFlags.NONE, None, 0, now,
            )
        )  # fmt: skip
    return taps, transfers


def run(name: str, database: Database, args: argparse.Namespace) -> None:
    start = datetime.now(UTC) - timedelta(days=1)
    _prepare(database, start)
    drop_schema_items(database, args.without)
    print(f"\n{name}" + (f", without {', '.join(args.without)}" if args.without else ""))
    print(f"{'taps':>10}{'taps/s':>10}{'KiB/tap written':>17}")
    upkeep = Upkeep(database, [fold_totals])
    upkeep.start()
    try:
        _write(database, args, start)
    finally:
        upkeep.stop()


def _write(database: Database, args: argparse.Namespace, start: datetime) -> None:
    sqlite = database.dialect == "sqlite"
    sequences = [0] * READERS
    done, began = 0, time.perf_counter()
    block_start, block_written = began, _written_bytes()
    while done < args.taps:
        reader = (done // args.batch) % READERS
        first = sequences[reader] + 1
        sequences[reader] += args.batch
        now = datetime.now(UTC)  # each batch is received, and posted, when it is written
        taps, transfers = _batch(reader, range(first, first + args.batch), start, now)
        with database.transaction() as session:
            append_taps(session, taps)
            insert_transfers(session.connection(), transfers)
        done += args.batch
        if done % args.report_every == 0 or done >= args.taps:
            clock, written = time.perf_counter(), _written_bytes()
            block = done % args.report_every or args.report_every
            kib = f"{(written - block_written) / 1024 / block:.1f}" if sqlite else "—"
            print(f"{done:>10}{block / (clock - block_start):>10,.0f}{kib:>17}", flush=True)
            block_start, block_written = clock, written
    print(f"{'all':>10}{done / (time.perf_counter() - began):>10,.0f}")


def _sqlite(path: Path, cache_mib: int | None) -> Database:
    database = Database(f"sqlite:///{path}")
    if cache_mib is not None:

        @event.listens_for(database.engine, "connect")
        def _cache(dbapi_connection: object, _record: object) -> None:
            dbapi_connection.execute(f"PRAGMA cache_size = -{cache_mib * 1024}")  # type: ignore[attr-defined]

    return database


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--taps", type=int, default=600_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--report-every", type=int, default=100_000)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--without", action="append", default=[], metavar="NAME",
                        help="drop this index or trigger first (repeatable)")  # fmt: skip
    parser.add_argument("--sqlite-cache-mib", type=int, help="SQLite page cache per connection")
    args = parser.parse_args()
    if args.report_every % args.batch:
        parser.error("--report-every must be a multiple of --batch")
    with tempfile.TemporaryDirectory(prefix="farebridge-taps-") as scratch:
        database = _sqlite(Path(scratch) / "taps.db", args.sqlite_cache_mib)
        try:
            run("SQLite", database, args)
        finally:
            database.dispose()
    if not args.skip_postgres:
        with scratch_schema(args.postgres) as url:
            database = Database(url)
            try:
                run("PostgreSQL", database, args)
            finally:
                database.dispose()


if __name__ == "__main__":
    main()
