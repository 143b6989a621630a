"""Cycle close: the time to close a clearing cycle of 1,000,000 fare legs
among 20 participants (15 operators, 5 issuers), on SQLite and PostgreSQL.

The ledger is prefilled through the driver-level ``executemany`` the ledger
itself uses; then ``close_cycle`` is timed: the claim, positions, fees and
settlement instructions in one transaction. The signed ledger checkpoint that
follows it in the server (the Merkle log's cost: every new transfer becomes a
leaf) is timed after it, on its own, and then an inclusion proof for its
middle leaf (and, from the second cycle, a consistency proof from the
previous checkpoint) as AuditService makes them from the stored subtree
roots; the same-run baseline is the same proof computed from every leaf
hash of the tree, as the log made them before it stored subtree roots.
With ``--cycles N`` a new day of legs is prefilled and closed N times: from
the second close on, the earlier cycles' transfers are history the close
should not have to read.

    .venv/bin/python benchmarks/cycle_close.py [--legs 1000000] [--cycles 1]
        [--postgres postgresql://postgres@127.0.0.1:5432/test] [--skip-postgres]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _postgres import scratch_schema
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text

from clearing.ledger import (
    AccountCode,
    AccountRef,
    LedgerLog,
    Transfer,
    TransferFlags,
    account_id_for,
    ensure_accounts,
    ledger_origin,
)
from clearing.ledger._log import leaf_hashes
from clearing.ledger._store import _insert_transfers
from clearing.registry import register_participant
from clearing.settlement import FeeSchedule, close_cycle, net_sums, set_fee_schedule
from clearing.storage import Database
from clearing.values import Participant, Role
from farebridge.codecs.merkle import consistency_proof, inclusion_proof

OPERATORS = [f"operator-{n:02d}" for n in range(15)]
ISSUERS = [f"issuer-{n}" for n in range(5)]
RIDERS = 20_000
CHUNK = 50_000
START = datetime(2026, 5, 4, 19, 0, tzinfo=UTC)


def _participants(database: Database) -> None:
    with database.transaction() as session:
        register_participant(
            session, Participant("house", "House", Role.CLEARING_HOUSE, "SGD"), START
        )
        for name in OPERATORS:
            register_participant(session, Participant(name, name, Role.OPERATOR, "SGD"), START)
        for name in ISSUERS:
            register_participant(session, Participant(name, name, Role.ISSUER, "SGD"), START)
        for name in OPERATORS[:5]:
            set_fee_schedule(session, FeeSchedule(name, "SGD", 35, 1), START)


def _prefill(database: Database, legs: int, day: int) -> None:
    """``legs`` fares created during ``day`` (0: the first), after the
    previous day's cut-off."""
    rng = random.Random(6 + day)
    begins = START + timedelta(days=day, seconds=1)
    riders = [
        AccountRef(ISSUERS[n % len(ISSUERS)], AccountCode.RIDER_FUNDS, "SGD", f"tok-{n}")
        for n in range(RIDERS)
    ]
    revenue = [AccountRef(o, AccountCode.FARE_REVENUE, "SGD") for o in OPERATORS]
    with database.transaction() as session:
        ensure_accounts(session, [*riders, *revenue], begins)
    rider_ids = [account_id_for(r) for r in riders]
    revenue_ids = [account_id_for(r) for r in revenue]
    for start in range(0, legs, CHUNK):
        transfers = [
            Transfer(
                uuid.UUID(int=rng.getrandbits(128)), rng.choice(rider_ids),
                rng.choice(revenue_ids), rng.randint(80, 400), "SGD", "fare", f"tap-{day}-{n}",
                TransferFlags.NONE, None, 0, begins + timedelta(seconds=n % 80_000),
            )
            for n in range(start, min(start + CHUNK, legs))
        ]  # fmt: skip
        with database.transaction() as session:
            _insert_transfers(session, transfers)


def run(name: str, url: str, legs: int, cycles: int) -> None:
    database = Database(url)
    try:
        database.migrate()
        _participants(database)
        previous = 0
        for day in range(cycles):
            previous = _close_one(database, name, legs, day, previous)
    finally:
        database.dispose()


def _close_one(database: Database, name: str, legs: int, day: int, previous: int) -> int:
    """Prefills a day, closes it, logs it; answers the new tree size."""
    began = time.perf_counter()
    _prefill(database, legs, day)
    prefill = time.perf_counter() - began
    with database.transaction() as session:
        session.execute(text("ANALYZE"))
    began = time.perf_counter()
    with database.transaction() as session:
        summary = close_cycle(session, f"bench-{day}", START + timedelta(days=day + 1))
    elapsed = time.perf_counter() - began
    assert all(total == 0 for total in net_sums(summary.positions).values())
    log = LedgerLog(database, ledger_origin("house"), Ed25519PrivateKey.generate())
    began = time.perf_counter()
    checkpoint = log.checkpoint(START + timedelta(days=day + 1))
    logged = time.perf_counter() - began
    history = f"after {day * legs:,} cleared" if day else "first cycle"
    print(
        f"{name:<10} {legs:>9,} legs ({history})  prefill {prefill:6.1f} s  "
        f"close {elapsed:6.2f} s  ({summary.transfer_count:,} transfers cleared, "
        f"{len(summary.positions)} positions, {len(summary.fees)} fees, "
        f"{len(summary.instructions)} instructions)  "
        f"then log and sign the checkpoint {logged:6.2f} s (tree size {checkpoint.tree_size:,})"
    )
    print(f"{'':<10} {_proofs(database, log, checkpoint.tree_size, previous)}")
    return checkpoint.tree_size


def _proofs(database: Database, log: LedgerLog, size: int, previous: int) -> str:
    """Proof times from the stored subtree roots, and from every leaf."""
    index = size // 2
    began = time.perf_counter()
    log.inclusion(transfer_id=None, leaf_index=index, tree_size=size)
    stored = time.perf_counter() - began
    began = time.perf_counter()
    with database.transaction() as session:
        inclusion_proof(leaf_hashes(session, 0, size), index)
    every = time.perf_counter() - began
    report = f"inclusion proof {stored * 1000:7.1f} ms (from every leaf {every:5.2f} s)"
    if previous:
        began = time.perf_counter()
        log.consistency(previous, size)
        stored = time.perf_counter() - began
        began = time.perf_counter()
        with database.transaction() as session:
            consistency_proof(leaf_hashes(session, 0, size), previous)
        every = time.perf_counter() - began
        report += f"  consistency proof {stored * 1000:7.1f} ms (from every leaf {every:5.2f} s)"
    return report


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--legs", type=int, default=1_000_000)
    parser.add_argument(
        "--cycles", type=int, default=1,
        help="close this many cycles of --legs each, one a day: from the second on, "
        "the close runs with the earlier cycles' transfers in the ledger",
    )  # fmt: skip
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--skip-postgres", action="store_true")
    arguments = parser.parse_args()
    print("target: close under 5 s")
    with tempfile.TemporaryDirectory() as directory:
        run("sqlite", f"sqlite:///{Path(directory) / 'bench.db'}", arguments.legs, arguments.cycles)
    if not arguments.skip_postgres:
        with scratch_schema(arguments.postgres) as url:
            run("postgresql", url, arguments.legs, arguments.cycles)


if __name__ == "__main__":
    main()
