"""A small ledger to tell stories with.

``ledger.account("rider", flags=...)`` opens an account named in words,
``ledger.transfer("fare-1", "rider", "metro", 190)`` describes a transfer by
names, and ``ledger.submit(...)`` sends a batch through the real store in one
database transaction, answering one result per transfer. Names become
deterministic ids, so a test reads like the ledger it builds.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta

import pytest

from clearing.ledger import (
    Account,
    AccountFlags,
    AccountResult,
    Balance,
    TransferFlags,
    TransferRequest,
    TransferResult,
    create_accounts,
    create_transfers,
    lookup_accounts,
    trial_balance,
)
from clearing.registry import register_participant
from clearing.storage import Database
from clearing.values import Currency, Participant, Role

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
OWNER = Participant("clearing-house", "Clearing house", Role.CLEARING_HOUSE, "SGD")
_NAMES = uuid.UUID("6f0f8a7e-3d3c-4c64-9a43-0d5b1f0e6a11")


def ident(name: str) -> uuid.UUID:
    """The id a test means by ``name`` (an account or a transfer)."""
    return uuid.uuid5(_NAMES, name)


def open_database(url: str) -> Database:
    """A migrated database whose one participant may own every account."""
    database = Database(url)
    database.migrate()
    with database.transaction() as session:
        register_participant(session, OWNER, START)
    return database


class Ledger:
    """A database seen as a ledger: named accounts, named transfers, a clock."""

    id = staticmethod(ident)

    def __init__(self, database: Database) -> None:
        self.database = database
        self.now = START

    def restart(self) -> None:
        """Closes every connection and opens the same database afresh, as a
        restarted process would (migrations included)."""
        url = self.database.url
        self.database.dispose()
        self.database = Database(url)
        self.database.migrate()

    def advance(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)

    def open(self, *accounts: Account) -> list[AccountResult]:
        with self.database.transaction() as session:
            return create_accounts(session, accounts, self.now)

    def account(
        self,
        name: str,
        *,
        flags: AccountFlags = AccountFlags.NONE,
        currency: Currency = "SGD",
        code: str = "rider_funds",
    ) -> uuid.UUID:
        """Opens the account ``name`` and answers its id."""
        assert self.open(self.describe(name, flags=flags, currency=currency, code=code)) == [
            AccountResult.OK
        ]
        return ident(name)

    def describe(
        self,
        name: str,
        *,
        flags: AccountFlags = AccountFlags.NONE,
        currency: Currency = "SGD",
        code: str = "rider_funds",
        participant: str = OWNER.participant_id,
        medium_token: str | None = None,
    ) -> Account:
        return Account(ident(name), participant, currency, code, flags, medium_token)

    def transfer(
        self,
        name: str,
        debit: str | None,
        credit: str | None,
        amount: int,
        *,
        currency: Currency | None = "SGD",
        code: str = "fare",
        user_data: str = "",
        flags: TransferFlags = TransferFlags.NONE,
        pending: str | None = None,
        timeout: int = 0,
    ) -> TransferRequest:
        return TransferRequest(
            transfer_id=ident(name),
            debit_account_id=None if debit is None else ident(debit),
            credit_account_id=None if credit is None else ident(credit),
            amount=amount,
            currency=currency,
            code=code,
            user_data=user_data,
            flags=flags,
            pending_id=None if pending is None else ident(pending),
            timeout=timeout,
        )

    def post(
        self, name: str, pending: str, amount: int = 0, *, flags: TransferFlags = TransferFlags.NONE
    ) -> TransferRequest:
        """Posts ``amount`` of the pending transfer (0: all of it), fields left to it."""
        return self.transfer(
            name,
            None,
            None,
            amount,
            currency=None,
            code="",
            flags=flags | TransferFlags.POST_PENDING,
            pending=pending,
        )

    def void(self, name: str, pending: str) -> TransferRequest:
        return self.transfer(
            name,
            None,
            None,
            0,
            currency=None,
            code="",
            flags=TransferFlags.VOID_PENDING,
            pending=pending,
        )

    def submit(self, *requests: TransferRequest) -> list[TransferResult]:
        """One batch, in one transaction, at the ledger's clock."""
        with self.database.transaction() as session:
            return create_transfers(session, requests, self.now)

    def balance(self, name: str) -> Balance:
        with self.database.transaction() as session:
            [(_, balance)] = lookup_accounts(session, [ident(name)], self.now)
        return balance

    def balances(self, names: Sequence[str]) -> dict[str, Balance]:
        return {name: self.balance(name) for name in names}

    def trial_balance(self) -> dict[Currency, tuple[int, int]]:
        with self.database.transaction() as session:
            return trial_balance(session)


@pytest.fixture
def open_ledger() -> Iterator[Callable[[str], Ledger]]:
    """Opens a fresh ledger on a database URL; closed when the test ends."""
    opened: list[Ledger] = []

    def open_(url: str) -> Ledger:
        opened.append(Ledger(open_database(url)))
        return opened[-1]

    yield open_
    for ledger in opened:
        ledger.database.dispose()


@pytest.fixture
def ledger(database_url: str, open_ledger: Callable[[str], Ledger]) -> Ledger:
    return open_ledger(database_url)
