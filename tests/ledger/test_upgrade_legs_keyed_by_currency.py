"""Upgrading a SQLite ledger to legs keyed by their currency (0012).

The upgrade builds ``ledger_transfers`` again and copies every row. An
operator upgrading farebridge relies on it to keep every transfer, the
Merkle log over them and the append-only guards exactly as they were, to
refuse a ledger that already breaks the currency invariant instead of
carrying it over, and to leave the database as it found it when it refuses.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from clearing.errors import MigrationRefusedError
from clearing.ledger import Balance, LedgerLog, TransferFlags, TransferResult, ledger_origin
from clearing.registry import register_participant
from clearing.storage import Database
from tests.ledger.conftest import OWNER, START, Ledger

BEFORE = "0011"


@pytest.fixture
def old_books(sqlite_url: str) -> Iterator[Ledger]:
    """A ledger at the revision before 0012, with fares, a pending transfer
    that was posted, one in another currency, and a signed checkpoint."""
    database = Database(sqlite_url)
    database.migrate(BEFORE)
    with database.transaction() as session:
        register_participant(session, OWNER, START)
    books = Ledger(database)
    for name in ("ann", "bo"):
        books.account(name)
    books.account("metro", code="fare_revenue")
    books.account("kim", currency="KRW")
    books.account("busan", currency="KRW", code="fare_revenue")
    hold = books.transfer("hold", "ann", "metro", 300, flags=TransferFlags.PENDING, timeout=60)
    assert (
        books.submit(
            books.transfer("fare-1", "ann", "metro", 190),
            books.transfer("fare-2", "bo", "metro", 240, user_data="tap-2"),
            books.transfer("fare-3", "kim", "busan", 1400, currency="KRW"),
            hold,
        )
        == [TransferResult.OK] * 4
    )
    books.advance(5)
    assert books.submit(books.post("post-hold", "hold", 250)) == [TransferResult.OK]
    LedgerLog(database, ledger_origin("clearing-house"), Ed25519PrivateKey.generate()).checkpoint(
        books.now
    )
    try:
        yield books
    finally:
        books.database.dispose()


def _contents(database: Database) -> dict[str, list[tuple[object, ...]]]:
    with database.engine.connect() as connection:
        return {
            table: list(connection.exec_driver_sql(f"SELECT * FROM {table} ORDER BY 1").all())
            for table in ("ledger_transfers", "ledger_log", "ledger_pending_resolutions")
        }


def _triggers(database: Database) -> set[str]:
    with database.engine.connect() as connection:
        query = "SELECT name FROM sqlite_master WHERE type = 'trigger'"
        return set(connection.exec_driver_sql(query).scalars())


def _forge(database: Database, name: str, debit: str, credit: str, currency: str) -> None:
    """Writes a transfer by hand, past the contract."""
    books = Ledger(database)
    with database.transaction() as session:
        session.execute(
            text(
                "INSERT INTO ledger_transfers (transfer_id, debit_account_id, credit_account_id,"
                " amount, currency, code, user_data, flags, timeout, created_at)"
                " VALUES (:id, :debit, :credit, 100, :currency, 'fare', '', 0, 0,"
                " '2026-03-02 09:00:00.000000')"
            ),
            {
                "id": books.id(name).hex,
                "debit": books.id(debit).hex,
                "credit": books.id(credit).hex,
                "currency": currency,
            },
        )


def test_the_upgrade_keeps_every_transfer_log_entry_and_balance(old_books: Ledger) -> None:
    before = _contents(old_books.database)
    trial = old_books.trial_balance()
    old_books.restart()  # migrates to the newest revision
    assert _contents(old_books.database) == before
    assert len(before["ledger_transfers"]) == 5
    # The hold posted 250 of its 300; nothing is pending any more.
    assert old_books.balances(["ann", "bo", "metro", "kim", "busan"]) == {
        "ann": Balance(debits_posted=190 + 250),
        "bo": Balance(debits_posted=240),
        "metro": Balance(credits_posted=190 + 240 + 250),
        "kim": Balance(debits_posted=1400),
        "busan": Balance(credits_posted=1400),
    }
    assert old_books.trial_balance() == trial == {"SGD": (680, 680), "KRW": (1400, 1400)}
    assert old_books.submit(old_books.transfer("fare-4", "bo", "metro", 90)) == [TransferResult.OK]


def test_after_the_upgrade_the_keys_refuse_a_transfer_across_currencies(
    old_books: Ledger,
) -> None:
    triggers = _triggers(old_books.database)
    old_books.restart()
    assert _triggers(old_books.database) == triggers - {"ledger_transfers_balanced"}
    assert {"ledger_transfers_no_update", "ledger_transfers_no_delete"} < triggers
    with pytest.raises(IntegrityError, match="FOREIGN KEY constraint failed"):
        _forge(old_books.database, "forged", "kim", "metro", "SGD")
    with pytest.raises(DBAPIError, match="append-only"), old_books.database.transaction() as s:
        s.execute(text("DELETE FROM ledger_transfers"))
    with old_books.database.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_an_upgrade_that_would_carry_over_a_broken_transfer_is_refused_whole(
    old_books: Ledger,
) -> None:
    database = old_books.database
    with database.transaction() as session:  # as someone might have, by hand
        session.execute(text("DROP TRIGGER ledger_transfers_balanced"))
    _forge(database, "forged", "kim", "metro", "SGD")
    before = _contents(database)
    with pytest.raises(MigrationRefusedError, match="1 rows whose foreign keys find no row"):
        database.migrate()
    assert _contents(database) == before
    with database.engine.connect() as connection:
        version = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
        assert version == BEFORE
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    database.dispose()
    refused = subprocess.run(
        [sys.executable, "-m", "clearing", "migrate", "--db", database.url],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert refused.returncode == 2, refused.stderr
    message = " ".join(refused.stderr.split())  # as wrapped for the terminal
    assert "Traceback" not in message
    assert "1 rows whose foreign keys find no row" in message
    assert "Nothing was changed" in message


def test_rolling_back_the_upgrade_brings_back_the_balance_trigger(old_books: Ledger) -> None:
    before = _contents(old_books.database)
    old_books.restart()
    old_books.database.downgrade(BEFORE)
    assert _contents(old_books.database) == before
    assert "ledger_transfers_balanced" in _triggers(old_books.database)
    with pytest.raises(IntegrityError, match="does not balance"):
        _forge(old_books.database, "forged", "kim", "metro", "SGD")
