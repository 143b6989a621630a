"""A batch finds every stored and failed id it repeats, wherever it lies.

Before looking its ids up one by one, a batch asks whether any stored id
lies between its least and greatest (``_may_hold_any``), and skips the
lookups when none does. Clients rely on idempotency whatever ids they
choose: a retry hidden among new ids, at either end of the batch or in the
middle of the stored range, must still answer ``exists`` or
``id_already_failed``, and nothing may be written twice.
"""

from __future__ import annotations

import itertools
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clearing.ledger import TransferResult as R

STORED = (1_000, 2_000, 3_000)
SPACES = itertools.count(1)


def fare(ledger, number: int, debit: str = "ann"):
    return ledger.transfer(f"fare-{number}", debit, "metro", 100)._replace(
        transfer_id=uuid.UUID(int=number)
    )


@pytest.fixture
def books(ledger):
    ledger.account("ann")
    ledger.account("bank", code="bank")
    ledger.account("metro", code="fare_revenue")
    assert ledger.submit(ledger.transfer("top-up", "bank", "ann", 100_000)) == [R.OK]
    assert ledger.submit(*(fare(ledger, n) for n in STORED)) == [R.OK] * 3
    # An id that failed for a reason of state stays failed.
    assert ledger.submit(fare(ledger, 2_500, debit="nobody")) == [R.DEBIT_ACCOUNT_NOT_FOUND]
    return ledger


@pytest.mark.parametrize(
    ("numbers", "expected"),
    [
        ((4_000, 4_001, 4_002), [R.OK, R.OK, R.OK]),  # all above what is stored
        ((10, 11), [R.OK, R.OK]),  # all below
        ((3_000, 4_000, 4_001), [R.EXISTS, R.OK, R.OK]),  # the greatest stored, then new
        ((1, 2, 1_000), [R.OK, R.OK, R.EXISTS]),  # new, then the least stored
        ((1_500, 2_000, 2_700), [R.OK, R.EXISTS, R.OK]),  # one stored among new ones
        ((2_499, 2_500, 2_501), [R.OK, R.ID_ALREADY_FAILED, R.OK]),  # a failed id
        ((2_500, 9_000), [R.ID_ALREADY_FAILED, R.OK]),  # failed, then far above
    ],
)
def test_a_batch_finds_the_stored_and_failed_ids_it_repeats(books, numbers, expected):
    balance = books.balance("ann")
    assert books.submit(*(fare(books, n) for n in numbers)) == expected
    new = expected.count(R.OK)
    assert books.balance("ann").debits_posted == balance.debits_posted + 100 * new
    assert books.trial_balance() == {"SGD": (100_000 + 100 * (3 + new),) * 2}


ids = st.integers(min_value=1, max_value=48)


@given(
    stored=st.sets(ids, max_size=8),
    failed=st.sets(ids, max_size=4),
    batch=st.lists(ids, min_size=1, max_size=12),
)
def test_any_batch_answers_as_if_every_id_were_looked_up(ledger, stored, failed, batch):
    """Small ids from one narrow space, so that batches fall below, above,
    around and inside what is stored, in every combination; each example
    takes a space of its own in the same ledger."""
    space = next(SPACES) << 64
    failed -= stored
    ledger.open(ledger.describe("ann"), ledger.describe("metro", code="fare_revenue"))
    if stored:
        assert ledger.submit(*(fare(ledger, space | n) for n in sorted(stored))) == [R.OK] * len(
            stored
        )
    for n in sorted(failed):
        assert ledger.submit(fare(ledger, space | n, debit="nobody")) == [R.DEBIT_ACCOUNT_NOT_FOUND]
    expected, seen = [], set(stored)
    for n in batch:
        expected.append(R.ID_ALREADY_FAILED if n in failed else R.EXISTS if n in seen else R.OK)
        seen |= {n} - failed
    assert ledger.submit(*(fare(ledger, space | n) for n in batch)) == expected
