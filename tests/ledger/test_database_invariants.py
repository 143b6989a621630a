"""The database keeps the ledger's invariants even against hand-written SQL.

No code path may commit a transfer whose accounts are not both in its
currency, nor edit or delete a committed transfer or a Merkle log entry. A
refused statement takes its whole transaction with it.
"""

from __future__ import annotations

import pytest
from sqlalchemy import bindparam, insert, select, text
from sqlalchemy.exc import DBAPIError

from clearing.ledger import AccountResult, Balance, TransferResult, create_accounts
from clearing.ledger import create_transfers as create
from clearing.storage.models import LedgerLogRow, LedgerTransferRow


@pytest.fixture
def books(ledger):
    """Two SGD accounts, one KRW account, one committed top-up in the log."""
    ledger.account("ann")
    ledger.account("bank", code="bank")
    ledger.account("kim", currency="KRW")
    assert ledger.submit(ledger.transfer("top-up-1", "bank", "ann", 1000)) == [TransferResult.OK]
    with ledger.database.transaction() as session:
        session.execute(
            insert(LedgerLogRow).values(
                leaf_index=0, transfer_id=ledger.id("top-up-1"), leaf_hash=bytes(32)
            )
        )
    return ledger


# PostgreSQL's deferred constraint trigger names the broken invariant; on
# SQLite the legs' foreign keys carry the currency, and refuse as keys do.
REFUSED_ACROSS_CURRENCIES = {
    "sqlite": "FOREIGN KEY constraint failed",
    "postgresql": "does not balance",
}


def row(ledger, name, debit, credit, currency):
    return {
        "transfer_id": ledger.id(name),
        "debit_account_id": ledger.id(debit),
        "credit_account_id": ledger.id(credit),
        "amount": 100,
        "currency": currency,
        "code": "fare",
        "user_data": "",
        "flags": 0,
        "pending_id": None,
        "timeout": 0,
        "expires_at": None,
        "created_at": ledger.now,
    }


def commit_honest_work_and(ledger, forbidden):
    """One transaction: work that is fine on its own (a new account and its
    top-up), then the ``forbidden`` statement."""
    with ledger.database.transaction() as session:
        assert create_accounts(session, [ledger.describe("bo")], ledger.now) == [AccountResult.OK]
        honest = ledger.transfer("top-up-bo", "bank", "bo", 500)
        assert create(session, [honest], ledger.now) == [TransferResult.OK]
        forbidden(session)


def assert_nothing_of_it_remains(ledger):
    with ledger.database.transaction() as session:
        assert create_accounts(session, [ledger.describe("bo")], ledger.now) == [AccountResult.OK]
    assert ledger.balance("bank") == Balance(debits_posted=1000)
    assert ledger.trial_balance() == {"SGD": (1000, 1000)}


@pytest.mark.parametrize(
    ("debit", "credit", "currency"),
    [
        ("kim", "ann", "SGD"),  # the debit account is in KRW
        ("bank", "kim", "SGD"),  # the credit account is in KRW
        ("bank", "ann", "KRW"),  # both accounts are in SGD
    ],
)
def test_a_hand_written_transfer_across_currencies_is_refused(books, debit, credit, currency):
    refusal = REFUSED_ACROSS_CURRENCIES[books.database.dialect]
    with pytest.raises(DBAPIError, match=refusal):
        commit_honest_work_and(
            books,
            lambda session: session.execute(
                insert(LedgerTransferRow), [row(books, "forged", debit, credit, currency)]
            ),
        )
    assert_nothing_of_it_remains(books)
    assert books.balance("kim") == Balance()


def test_a_raw_sql_transfer_across_currencies_is_refused(books):
    forged = row(books, "forged", "kim", "ann", "SGD")
    columns = LedgerTransferRow.__table__.columns
    statement = text(
        f"INSERT INTO ledger_transfers ({', '.join(forged)}) "
        f"VALUES ({', '.join(':' + name for name in forged)})"
    ).bindparams(*(bindparam(name, type_=columns[name].type) for name in forged))
    refusal = REFUSED_ACROSS_CURRENCIES[books.database.dialect]
    with pytest.raises(DBAPIError, match=refusal):
        commit_honest_work_and(books, lambda session: session.execute(statement, forged))
    assert_nothing_of_it_remains(books)


def test_a_hand_written_balanced_transfer_is_accepted(books):
    with books.database.transaction() as session:
        session.execute(insert(LedgerTransferRow), [row(books, "by-hand", "bank", "ann", "SGD")])
    assert books.balance("ann") == Balance(credits_posted=1100)
    assert books.trial_balance() == {"SGD": (1100, 1100)}


EDITS = {
    "update a transfer": "UPDATE ledger_transfers SET amount = amount + 1",
    "delete a transfer": "DELETE FROM ledger_transfers",
    "update the log": "UPDATE ledger_log SET leaf_index = leaf_index + 1",
    "delete from the log": "DELETE FROM ledger_log",
}


@pytest.mark.parametrize("statement", list(EDITS.values()), ids=list(EDITS))
def test_the_ledger_is_append_only(books, statement):
    with pytest.raises(DBAPIError, match="append-only"):
        commit_honest_work_and(books, lambda session: session.execute(text(statement)))
    assert_nothing_of_it_remains(books)
    with books.database.transaction() as session:
        assert session.execute(select(LedgerLogRow.leaf_index, LedgerLogRow.transfer_id)).all() == [
            (0, books.id("top-up-1"))
        ]
        assert session.scalars(select(LedgerTransferRow.amount)).all() == [1000]
