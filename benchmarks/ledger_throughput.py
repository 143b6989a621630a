"""Ledger throughput: transfers created per second through the full ledger
contract, in batches of 1,000, on SQLite and PostgreSQL.

The ceiling, measured in the same run: a raw ``executemany`` insert of the
very same rows into a table with the same columns and indexes as
``ledger_transfers`` (no contract, no triggers, no foreign keys). On
PostgreSQL the ledger itself writes with ``COPY``, which can beat that
ceiling.

Clients choose transfer ids. Each run is made twice, with random ids and
with ordered ones (as farebridge derives a tap's fare id from the tap's
sequence on its reader, and as TigerBeetle advises): a random id lands on a
page of the primary key of its own.

    .venv/bin/python benchmarks/ledger_throughput.py [--transfers 100000]
        [--postgres postgresql://postgres@127.0.0.1:5432/test] [--skip-postgres]
        [--ids random ordered]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from _postgres import scratch_schema
from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Uuid,
)

from clearing.ledger import (
    AccountCode,
    AccountRef,
    Transfer,
    TransferFlags,
    TransferRequest,
    account_id_for,
    create_transfers,
    ensure_accounts,
)
from clearing.ledger._driver import TRANSFER_COLUMNS, transfer_rows
from clearing.registry import register_participant
from clearing.storage import Database
from clearing.storage._types import UTCDateTime
from clearing.values import Participant, Role

BATCH = 1_000
RIDERS = 5_000
OPERATORS = 20


def _ceiling_table(metadata: MetaData) -> Table:
    return Table(
        "bench_raw_transfers", metadata,
        Column("transfer_id", Uuid(), primary_key=True),
        Column("debit_account_id", Uuid(), index=True),
        Column("credit_account_id", Uuid(), index=True),
        Column("amount", BigInteger), Column("currency", String(3)),
        Column("code", String(32)), Column("user_data", String(128), index=True),
        Column("flags", Integer), Column("pending_id", Uuid()), Column("timeout", Integer),
        Column("expires_at", UTCDateTime()), Column("created_at", UTCDateTime()),
        Index("ix_bench_raw_transfers_created_at_transfer_id", "created_at", "transfer_id"),
    )  # fmt: skip


def _accounts() -> tuple[list[AccountRef], list[AccountRef]]:
    riders = [
        AccountRef("issuer", AccountCode.RIDER_FUNDS, "SGD", f"tok-{n}") for n in range(RIDERS)
    ]
    operators = [AccountRef(f"op-{n}", AccountCode.FARE_REVENUE, "SGD") for n in range(OPERATORS)]
    return riders, operators


def _requests(count: int, seed: int, ids: str) -> list[TransferRequest]:
    """Fares between random riders and operators. ``ids``: ``random`` (128
    random bits each) or ``ordered`` (the request's number, then 80 random
    bits, as a tap's fare id is its sequence on its reader, then a hash)."""
    generator = random.Random(seed)
    riders, operators = _accounts()

    def transfer_id(n: int) -> uuid.UUID:
        if ids == "random":
            return uuid.UUID(int=generator.getrandbits(128))
        return uuid.UUID(int=(n << 80) | generator.getrandbits(80))

    return [
        TransferRequest(
            transfer_id=transfer_id(n),
            debit_account_id=account_id_for(generator.choice(riders)),
            credit_account_id=account_id_for(generator.choice(operators)),
            amount=generator.randint(80, 400),
            currency="SGD",
            code="fare",
            user_data=f"tap-{n}",
        )
        for n in range(count)
    ]


def _prepare(database: Database) -> None:
    database.migrate()
    now = datetime.now(UTC)
    riders, operators = _accounts()
    with database.transaction() as session:
        register_participant(session, Participant("issuer", "Issuer", Role.ISSUER, "SGD"), now)
        for ref in operators:
            participant = Participant(ref.participant_id, ref.participant_id, Role.OPERATOR, "SGD")
            register_participant(session, participant, now)
    with database.transaction() as session:
        ensure_accounts(session, riders + operators, now)


def _through_contract(database: Database, requests: Sequence[TransferRequest]) -> float:
    start = time.perf_counter()
    for offset in range(0, len(requests), BATCH):
        with database.transaction() as session:
            create_transfers(session, requests[offset : offset + BATCH], datetime.now(UTC))
    return len(requests) / (time.perf_counter() - start)


def _raw_ceiling(database: Database, requests: Sequence[TransferRequest]) -> float:
    """The same rows, converted the same way, by a plain driver executemany
    into a table with the same columns and indexes, with nothing decided."""
    metadata = MetaData()
    _ceiling_table(metadata).create(database.engine)
    now = datetime.now(UTC)
    transfers = [
        Transfer(
            r.transfer_id, r.debit_account_id, r.credit_account_id,  # type: ignore[arg-type]
            r.amount, "SGD", r.code, r.user_data, TransferFlags.NONE, None, 0, now,
        )
        for r in requests
    ]  # fmt: skip
    sqlite = database.dialect == "sqlite"
    marks = ", ".join("?" if sqlite else "%s" for _ in TRANSFER_COLUMNS)
    statement = f"INSERT INTO bench_raw_transfers ({', '.join(TRANSFER_COLUMNS)}) VALUES ({marks})"
    start = time.perf_counter()
    for offset in range(0, len(transfers), BATCH):
        with database.transaction() as session:
            rows = transfer_rows(transfers[offset : offset + BATCH], sqlite=sqlite)
            session.connection().exec_driver_sql(statement, rows)
    return len(transfers) / (time.perf_counter() - start)


def run(name: str, url: str, count: int, ids: str) -> None:
    database = Database(url)
    _prepare(database)
    requests = _requests(count, seed=1, ids=ids)
    contract = _through_contract(database, requests)
    ceiling = _raw_ceiling(database, requests)
    database.dispose()
    print(
        f"{name:<10} {count:>8} transfers, {ids:<7} ids  contract {contract:>9,.0f}/s  "
        f"raw ceiling {ceiling:>9,.0f}/s  ratio {contract / ceiling:6.1%}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--transfers", type=int, default=100_000)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--ids", nargs="+", choices=["random", "ordered"],
                        default=["random", "ordered"],
                        help="how clients choose transfer ids; each runs in turn")  # fmt: skip
    arguments = parser.parse_args()
    for ids in arguments.ids:
        with tempfile.TemporaryDirectory() as folder:
            run("sqlite", f"sqlite:///{Path(folder) / 'bench.db'}", arguments.transfers, ids)
        if not arguments.skip_postgres:
            with scratch_schema(arguments.postgres) as url:
                run("postgresql", url, arguments.transfers, ids)


if __name__ == "__main__":
    main()
