"""The account cache only ever holds committed accounts, of its own database,
and never more than its capacity."""

from __future__ import annotations

import uuid

import pytest

from clearing.ledger import (
    AccountCode,
    AccountRef,
    TransferRequest,
    TransferResult,
    account_id_for,
    create_transfers,
    ensure_accounts,
)
from clearing.ledger._cache import AccountCache, account_cache
from clearing.ledger._contract import Account

RIDER = AccountRef("clearing-house", AccountCode.RIDER_FUNDS, "SGD", "tok-lost-and-found")
BANK = AccountRef("clearing-house", AccountCode.SETTLEMENT, "SGD")


class AbandonedError(Exception):
    """Raised to roll a transaction back."""


def fare(name: str) -> TransferRequest:
    return TransferRequest(
        uuid.uuid5(uuid.NAMESPACE_URL, name),
        account_id_for(RIDER),
        account_id_for(BANK),
        190,
        "SGD",
        "fare",
    )


def open_and_charge_then_abandon(ledger) -> None:
    with ledger.database.transaction() as session:
        ensure_accounts(session, [RIDER, BANK], ledger.now)
        assert create_transfers(session, [fare("fare-1")], ledger.now) == [TransferResult.OK]
        raise AbandonedError


def test_an_account_from_a_rolled_back_transaction_does_not_exist_afterwards(ledger):
    with pytest.raises(AbandonedError):
        open_and_charge_then_abandon(ledger)

    assert ledger.submit(fare("fare-1")) == [TransferResult.DEBIT_ACCOUNT_NOT_FOUND]
    with ledger.database.transaction() as session:
        ensure_accounts(session, [RIDER, BANK], ledger.now)
    assert ledger.submit(fare("fare-2")) == [TransferResult.OK]


def test_committed_accounts_are_remembered_and_then_not_read_again(ledger):
    with ledger.database.transaction() as session:
        ensure_accounts(session, [RIDER, BANK], ledger.now)
        assert account_id_for(RIDER) not in account_cache(session)
    with ledger.database.transaction() as session:
        assert account_id_for(RIDER) in account_cache(session)
        assert account_id_for(BANK) in account_cache(session)
    assert ledger.submit(fare("fare-1")) == [TransferResult.OK]


def test_each_database_has_its_own_cache(tmp_path, open_ledger):
    first = open_ledger(f"sqlite:///{tmp_path / 'first.db'}")
    second = open_ledger(f"sqlite:///{tmp_path / 'second.db'}")
    with first.database.transaction() as session:
        ensure_accounts(session, [RIDER, BANK], first.now)
    assert first.submit(fare("fare-1")) == [TransferResult.OK]
    assert second.submit(fare("fare-1")) == [TransferResult.DEBIT_ACCOUNT_NOT_FOUND]


def account(n: int) -> Account:
    return Account(uuid.UUID(int=n + 1), "clearing-house", "SGD", "rider_funds")


def test_the_cache_keeps_at_most_its_capacity_and_forgets_the_least_recently_used():
    cache = AccountCache(capacity=3)
    cache.add(account(n) for n in range(3))
    found, missing = cache.lookup([account(0).account_id.int])  # 0 is now the most recent
    assert list(found.values()) == [account(0)]
    assert missing == []

    cache.add([account(3), account(4)])

    assert len(cache) == 3
    assert account(0).account_id in cache
    assert account(1).account_id not in cache
    found, missing = cache.lookup(account(n).account_id.int for n in range(5))
    assert set(found.values()) == {account(n) for n in (0, 3, 4)}
    assert missing == [account(1).account_id.int, account(2).account_id.int]
