"""The ledger contract, told as small stories on both databases.

A rider's stored-value account may not go below zero, a bank account funds
top-ups, the metro earns fares. Each story submits batches through the real
store and checks the answers a client relies on and the balances it sees.
"""

from __future__ import annotations

import dataclasses
import itertools
import uuid

import pytest

from clearing.ledger import (
    AccountFlags,
    AccountResult,
    Balance,
    TransferFlags,
    TransferRequest,
)
from clearing.ledger import TransferResult as R

LIMITED = AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS
LINKED = TransferFlags.LINKED
PENDING = TransferFlags.PENDING


@pytest.fixture
def city(ledger):
    """Ann's card (no overdraft), the bank that tops it up, the metro, and a
    KRW wallet world beside them."""
    ledger.account("ann", flags=LIMITED)
    ledger.account("bank", code="bank")
    ledger.account("metro", code="fare_revenue")
    ledger.account("kim", flags=LIMITED, currency="KRW")
    ledger.account("bank-krw", code="bank", currency="KRW")
    return ledger


def top_up(ledger, name, amount, rider="ann"):
    return ledger.transfer(name, "bank", rider, amount, code="top_up", user_data=name)


def fare(ledger, name, amount, rider="ann", **fields):
    return ledger.transfer(name, rider, "metro", amount, code="fare", **fields)


def everyone(ledger):
    return ledger.balances(["ann", "bank", "metro"])


# ------------------------------------------------------------------ single phase


def test_a_top_up_moves_posted_money_and_the_ledger_balances(city):
    assert city.submit(top_up(city, "top-up-1", 1000)) == [R.OK]
    assert city.submit(fare(city, "fare-1", 190)) == [R.OK]

    assert city.balance("ann") == Balance(debits_posted=190, credits_posted=1000)
    assert city.balance("bank") == Balance(debits_posted=1000)
    assert city.balance("metro") == Balance(credits_posted=190)
    assert city.trial_balance() == {"SGD": (1190, 1190)}


def test_a_retry_answers_exists_and_changes_nothing(city):
    city.submit(top_up(city, "top-up-1", 1000))
    before = everyone(city)

    assert city.submit(top_up(city, "top-up-1", 1000)) == [R.EXISTS]
    assert everyone(city) == before


def test_a_retry_in_the_same_batch_answers_exists(city):
    request = top_up(city, "top-up-1", 1000)
    assert city.submit(request, request) == [R.OK, R.EXISTS]
    assert city.balance("ann").credits_posted == 1000


def test_a_retry_answers_exists_even_when_the_money_has_since_been_spent(city):
    city.submit(top_up(city, "top-up-1", 200))
    city.submit(fare(city, "fare-1", 200))

    assert city.submit(fare(city, "fare-1", 200)) == [R.EXISTS]
    assert city.balance("ann") == Balance(debits_posted=200, credits_posted=200)


# Each field of the stored transfer, how a conflicting retry changes it, and
# what the ledger names. Listed in the contract's precedence order.
CHANGES = {
    "flags": ({"flags": PENDING}, R.EXISTS_WITH_DIFFERENT_FLAGS),
    "pending_id": ({"pending_id": uuid.uuid4()}, R.EXISTS_WITH_DIFFERENT_PENDING_ID),
    "timeout": ({"timeout": 60}, R.EXISTS_WITH_DIFFERENT_TIMEOUT),
    "debit": ({"debit_account_id": "metro"}, R.EXISTS_WITH_DIFFERENT_DEBIT_ACCOUNT_ID),
    "credit": ({"credit_account_id": "metro"}, R.EXISTS_WITH_DIFFERENT_CREDIT_ACCOUNT_ID),
    "amount": ({"amount": 1001}, R.EXISTS_WITH_DIFFERENT_AMOUNT),
    "user_data": ({"user_data": "top-up-2"}, R.EXISTS_WITH_DIFFERENT_USER_DATA),
    "currency": ({"currency": "KRW"}, R.EXISTS_WITH_DIFFERENT_CURRENCY),
    "code": ({"code": "fare"}, R.EXISTS_WITH_DIFFERENT_CODE),
}


def changed(ledger, request: TransferRequest, *fields: str) -> TransferRequest:
    values: dict[str, object] = {}
    for name in fields:
        for key, value in CHANGES[name][0].items():
            values[key] = ledger.id(value) if key.endswith("account_id") else value
    return request._replace(**values)


@pytest.mark.parametrize("field", list(CHANGES))
def test_a_conflicting_retry_names_the_field_that_differs(city, field):
    original = top_up(city, "top-up-1", 1000)
    city.submit(original)
    before = everyone(city)

    assert city.submit(changed(city, original, field)) == [CHANGES[field][1]]
    assert everyone(city) == before
    assert city.submit(original) == [R.EXISTS]


def test_when_two_fields_differ_the_first_in_precedence_is_named(city):
    original = top_up(city, "top-up-1", 1000)
    city.submit(original)
    answers = {
        pair: city.submit(changed(city, original, *pair))[0]
        for pair in itertools.combinations(CHANGES, 2)
    }
    # CHANGES is in precedence order, so the first of each pair wins.
    assert answers == {pair: CHANGES[pair[0]][1] for pair in answers}
    assert city.balance("ann") == Balance(credits_posted=1000)


def test_a_conflicting_post_of_a_pending_transfer_names_the_field(city):
    city.submit(top_up(city, "top-up-1", 1000))
    city.submit(fare(city, "hold", 300, flags=PENDING))
    city.submit(city.post("capture", "hold", 250))

    assert city.submit(city.post("capture", "hold", 250)) == [R.EXISTS]
    assert city.submit(city.post("capture", "hold", 200)) == [R.EXISTS_WITH_DIFFERENT_AMOUNT]
    assert city.submit(city.void("capture", "hold")) == [R.EXISTS_WITH_DIFFERENT_FLAGS]


# ------------------------------------------------------------------ validation


def test_the_zero_id_is_refused(city):
    request = top_up(city, "x", 100)._replace(transfer_id=uuid.UUID(int=0))
    assert city.submit(request) == [R.ID_MUST_NOT_BE_ZERO]
    assert city.balance("ann") == Balance()


@pytest.mark.parametrize(
    "flags",
    [
        PENDING | TransferFlags.POST_PENDING,
        PENDING | TransferFlags.VOID_PENDING,
        TransferFlags.POST_PENDING | TransferFlags.VOID_PENDING,
    ],
)
def test_two_phase_flags_are_mutually_exclusive(city, flags):
    city.submit(top_up(city, "top-up-1", 1000))
    city.submit(fare(city, "hold", 300, flags=PENDING))
    request = fare(city, "odd", 100, flags=flags, pending="hold")
    assert city.submit(request) == [R.FLAGS_ARE_MUTUALLY_EXCLUSIVE]
    assert city.balance("ann") == Balance(debits_pending=300, credits_posted=1000)


def test_a_transfer_needs_two_different_accounts(city):
    city.submit(top_up(city, "top-up-1", 1000))
    assert city.submit(city.transfer("loop", "ann", "ann", 100)) == [R.ACCOUNTS_MUST_BE_DIFFERENT]
    assert city.balance("ann") == Balance(credits_posted=1000)


def test_an_unknown_account_is_named_and_the_id_stays_failed(city):
    assert city.submit(city.transfer("t1", "nobody", "metro", 100)) == [R.DEBIT_ACCOUNT_NOT_FOUND]
    assert city.submit(city.transfer("t2", "bank", "nobody", 100)) == [R.CREDIT_ACCOUNT_NOT_FOUND]
    city.account("nobody")
    # Not finding an account is a fact about the ledger at that moment: the
    # ids stay failed, so a late retry cannot succeed against a newer state.
    assert city.submit(city.transfer("t1", "nobody", "metro", 100)) == [R.ID_ALREADY_FAILED]
    assert city.submit(city.transfer("t2", "bank", "nobody", 100)) == [R.ID_ALREADY_FAILED]
    assert city.balance("nobody") == Balance()


def test_accounts_in_two_currencies_cannot_trade(city):
    assert city.submit(city.transfer("fx", "bank", "kim", 100)) == [
        R.ACCOUNTS_MUST_HAVE_THE_SAME_CURRENCY
    ]
    assert city.balance("kim") == Balance()


def test_the_transfer_currency_must_be_the_accounts_currency(city):
    wrong = top_up(city, "top-up-1", 100)
    assert city.submit(wrong._replace(currency="KRW")) == [
        R.TRANSFER_MUST_HAVE_THE_SAME_CURRENCY_AS_ACCOUNTS
    ]
    assert city.trial_balance() == {}
    # A mistake in the request itself does not burn the id: corrected, it goes through.
    assert city.submit(wrong) == [R.OK]
    assert city.trial_balance() == {"SGD": (100, 100)}


def test_a_krw_world_clears_beside_the_sgd_one(city):
    city.submit(top_up(city, "top-up-sgd", 500))
    assert city.submit(city.transfer("top-up-krw", "bank-krw", "kim", 50_000, currency="KRW")) == [
        R.OK
    ]
    assert city.trial_balance() == {"SGD": (500, 500), "KRW": (50_000, 50_000)}


# ------------------------------------------------------------------ balance limits


def test_no_overdraft_and_the_failed_id_stays_failed_after_funds_arrive(city):
    city.submit(top_up(city, "top-up-1", 100))
    assert city.submit(fare(city, "fare-1", 190)) == [R.EXCEEDS_CREDITS]
    assert city.balance("ann") == Balance(credits_posted=100)

    city.submit(top_up(city, "top-up-2", 1000))
    assert city.submit(fare(city, "fare-1", 190)) == [R.ID_ALREADY_FAILED]
    assert city.balance("ann") == Balance(credits_posted=1100)
    assert city.submit(fare(city, "fare-1b", 190)) == [R.OK]


def test_exactly_the_whole_balance_may_be_spent(city):
    city.submit(top_up(city, "top-up-1", 190))
    assert city.submit(fare(city, "fare-1", 190), fare(city, "fare-2", 1)) == [
        R.OK,
        R.EXCEEDS_CREDITS,
    ]
    assert city.balance("ann") == Balance(debits_posted=190, credits_posted=190)


def test_pending_debits_count_against_the_limit(city):
    city.submit(top_up(city, "top-up-1", 300))
    assert city.submit(fare(city, "hold", 200, flags=PENDING)) == [R.OK]
    assert city.submit(fare(city, "fare-1", 101)) == [R.EXCEEDS_CREDITS]
    assert city.submit(fare(city, "fare-2", 100)) == [R.OK]


def test_credits_must_not_exceed_debits(city):
    city.account("payable", flags=AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS, code="payable")
    city.submit(city.transfer("advance", "payable", "bank", 50))
    assert city.submit(city.transfer("repay-1", "bank", "payable", 60)) == [R.EXCEEDS_DEBITS]
    assert city.submit(city.transfer("repay-2", "bank", "payable", 50)) == [R.OK]
    assert city.balance("payable") == Balance(debits_posted=50, credits_posted=50)


def test_a_closed_account_refuses_money_both_ways(city):
    city.account("lost-card", flags=AccountFlags.CLOSED)
    assert city.submit(city.transfer("in", "bank", "lost-card", 100)) == [
        R.CREDIT_ACCOUNT_ALREADY_CLOSED
    ]
    assert city.submit(city.transfer("out", "lost-card", "metro", 100)) == [
        R.DEBIT_ACCOUNT_ALREADY_CLOSED
    ]
    assert city.balance("lost-card") == Balance()


# ------------------------------------------------------------------ linked chains


def linked(*requests: TransferRequest) -> list[TransferRequest]:
    """A chain: every request but the last says "the next one goes with me"."""
    return [
        r._replace(flags=r.flags | LINKED) if i < len(requests) - 1 else r
        for i, r in enumerate(requests)
    ]


def test_a_linked_chain_is_all_or_nothing(city):
    city.submit(top_up(city, "top-up-1", 200))
    before = everyone(city)
    chain = linked(
        top_up(city, "top-up-2", 100), fare(city, "fare-big", 1000), fare(city, "fare-small", 50)
    )

    assert city.submit(*chain) == [R.LINKED_EVENT_FAILED, R.EXCEEDS_CREDITS, R.LINKED_EVENT_FAILED]
    assert everyone(city) == before
    # Nothing of the chain was written, so its other ids are still free; the
    # member that failed on the ledger's state stays failed.
    assert city.submit(chain[0], chain[2]) == [R.OK, R.OK]
    assert city.submit(fare(city, "fare-big", 1000)) == [R.ID_ALREADY_FAILED]
    assert city.balance("ann") == Balance(debits_posted=50, credits_posted=300)


def test_a_failed_chain_does_not_stop_the_rest_of_the_batch(city):
    city.submit(top_up(city, "top-up-1", 200))
    results = city.submit(
        fare(city, "before", 10),
        *linked(fare(city, "chain-a", 20), city.transfer("chain-b", "ann", "ann", 5)),
        fare(city, "after", 30),
    )
    assert results == [R.OK, R.LINKED_EVENT_FAILED, R.ACCOUNTS_MUST_BE_DIFFERENT, R.OK]
    assert city.balance("metro") == Balance(credits_posted=40)


def test_a_chain_member_sees_the_members_before_it(city):
    chain = linked(top_up(city, "top-up-1", 190), fare(city, "fare-1", 190))
    assert city.submit(*chain) == [R.OK, R.OK]
    assert city.balance("ann") == Balance(debits_posted=190, credits_posted=190)


def test_a_chain_left_open_at_the_end_of_the_batch_fails_its_open_tail(city):
    first = top_up(city, "top-up-1", 500)
    tail = [
        fare(city, "fare-1", 100)._replace(flags=LINKED),
        fare(city, "fare-2", 100)._replace(flags=LINKED),
    ]
    assert city.submit(first, *tail) == [
        R.OK,
        R.LINKED_EVENT_CHAIN_OPEN,
        R.LINKED_EVENT_CHAIN_OPEN,
    ]
    assert city.balance("ann") == Balance(credits_posted=500)
    assert city.submit(*linked(fare(city, "fare-1", 100), fare(city, "fare-2", 100))) == [
        R.OK,
        R.OK,
    ]


# ------------------------------------------------------------------ two-phase


@pytest.fixture
def held(city):
    """Ann has 1000 and the metro holds 300 of it at the gate."""
    city.submit(top_up(city, "top-up-1", 1000))
    assert city.submit(fare(city, "hold", 300, flags=PENDING)) == [R.OK]
    assert city.balance("ann") == Balance(debits_pending=300, credits_posted=1000)
    assert city.balance("metro") == Balance(credits_pending=300)
    return city


def test_posting_part_of_a_hold_releases_the_rest(held):
    assert held.submit(held.post("capture", "hold", 120)) == [R.OK]
    assert held.balance("ann") == Balance(debits_posted=120, credits_posted=1000)
    assert held.balance("metro") == Balance(credits_posted=120)
    assert held.submit(fare(held, "spend-the-rest", 880)) == [R.OK]


def test_posting_amount_zero_posts_the_whole_hold(held):
    assert held.submit(held.post("capture", "hold")) == [R.OK]
    assert held.balance("ann") == Balance(debits_posted=300, credits_posted=1000)
    assert held.balance("metro") == Balance(credits_posted=300)
    assert held.trial_balance() == {"SGD": (1300, 1300)}


def test_voiding_a_hold_gives_it_all_back(held):
    assert held.submit(held.void("release", "hold")) == [R.OK]
    assert held.balance("ann") == Balance(credits_posted=1000)
    assert held.balance("metro") == Balance()
    assert held.trial_balance() == {"SGD": (1000, 1000)}


def test_a_post_may_name_the_hold_fields_and_must_match_them(held):
    exact = held.post("capture", "hold", 100)._replace(
        debit_account_id=held.id("ann"),
        credit_account_id=held.id("metro"),
        currency="SGD",
        code="fare",
    )
    wrong_code = exact._replace(transfer_id=held.id("capture-2"), code="top_up")
    assert held.submit(wrong_code) == [R.PENDING_TRANSFER_HAS_DIFFERENT_CODE]
    assert held.submit(exact) == [R.OK]
    assert held.balance("metro") == Balance(credits_posted=100)


def test_a_hold_is_posted_at_most_once(held):
    assert held.submit(held.post("capture", "hold", 100)) == [R.OK]
    assert held.submit(held.post("capture-again", "hold", 100)) == [
        R.PENDING_TRANSFER_ALREADY_POSTED
    ]
    assert held.submit(held.void("release", "hold")) == [R.PENDING_TRANSFER_ALREADY_POSTED]
    assert held.balance("ann") == Balance(debits_posted=100, credits_posted=1000)


def test_a_voided_hold_cannot_be_posted(held):
    assert held.submit(held.void("release", "hold")) == [R.OK]
    assert held.submit(held.post("capture", "hold")) == [R.PENDING_TRANSFER_ALREADY_VOIDED]
    assert held.submit(held.void("release-again", "hold")) == [R.PENDING_TRANSFER_ALREADY_VOIDED]
    assert held.balance("ann") == Balance(credits_posted=1000)


def test_two_posts_of_one_hold_in_one_batch_resolve_it_once(held):
    assert held.submit(held.post("capture-1", "hold", 100), held.void("release", "hold")) == [
        R.OK,
        R.PENDING_TRANSFER_ALREADY_POSTED,
    ]
    assert held.balance("ann") == Balance(debits_posted=100, credits_posted=1000)


def test_a_post_cannot_exceed_the_hold(held):
    assert held.submit(held.post("capture", "hold", 301)) == [R.EXCEEDS_PENDING_TRANSFER_AMOUNT]
    assert held.balance("ann") == Balance(debits_pending=300, credits_posted=1000)
    # The id is not burnt by a mistake in the request itself.
    assert held.submit(held.post("capture", "hold", 300)) == [R.OK]


def test_a_post_of_a_transfer_that_is_not_pending_is_refused(city):
    city.submit(top_up(city, "top-up-1", 1000))
    assert city.submit(city.post("capture", "top-up-1")) == [R.PENDING_TRANSFER_NOT_PENDING]
    assert city.submit(city.post("capture-2", "no-such-hold")) == [R.PENDING_TRANSFER_NOT_FOUND]


def test_an_expired_hold_stops_counting_and_cannot_be_posted(city):
    city.submit(top_up(city, "top-up-1", 1000))
    assert city.submit(fare(city, "hold", 300, flags=PENDING, timeout=60)) == [R.OK]

    city.advance(59)
    assert city.balance("ann") == Balance(debits_pending=300, credits_posted=1000)
    city.advance(1)
    assert city.balance("ann") == Balance(credits_posted=1000)
    assert city.balance("metro") == Balance()

    assert city.submit(city.post("capture", "hold")) == [R.PENDING_TRANSFER_EXPIRED]
    assert city.submit(city.void("release", "hold")) == [R.PENDING_TRANSFER_EXPIRED]
    assert city.submit(city.post("capture", "hold")) == [R.ID_ALREADY_FAILED]
    # The released reservation may be spent again.
    assert city.submit(fare(city, "fare-1", 1000)) == [R.OK]


def test_a_hold_without_timeout_never_expires(held):
    held.advance(365 * 24 * 3600)
    assert held.balance("ann") == Balance(debits_pending=300, credits_posted=1000)
    assert held.submit(held.post("capture", "hold")) == [R.OK]


def test_a_timeout_is_only_for_pending_transfers(city):
    city.submit(top_up(city, "top-up-1", 1000))
    assert city.submit(fare(city, "fare-1", 100, timeout=60)) == [
        R.TIMEOUT_RESERVED_FOR_PENDING_TRANSFER
    ]


# ------------------------------------------------------------------ accounts


def test_opening_an_account_twice_answers_exists(ledger):
    ann = ledger.describe("ann", flags=LIMITED, medium_token="card-ann")
    assert ledger.open(ann, ann) == [AccountResult.OK, AccountResult.EXISTS]
    assert ledger.open(ann) == [AccountResult.EXISTS]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"flags": AccountFlags.NONE}, AccountResult.EXISTS_WITH_DIFFERENT_FLAGS),
        ({"participant": "op-metro"}, AccountResult.EXISTS_WITH_DIFFERENT_PARTICIPANT),
        ({"currency": "KRW"}, AccountResult.EXISTS_WITH_DIFFERENT_CURRENCY),
        ({"code": "fare_revenue"}, AccountResult.EXISTS_WITH_DIFFERENT_CODE),
        ({"medium_token": "card-bo"}, AccountResult.EXISTS_WITH_DIFFERENT_MEDIUM_TOKEN),
        (
            {"flags": AccountFlags.NONE, "code": "fare_revenue"},
            AccountResult.EXISTS_WITH_DIFFERENT_FLAGS,
        ),
        ({"currency": "KRW", "code": "x"}, AccountResult.EXISTS_WITH_DIFFERENT_CURRENCY),
    ],
)
def test_reopening_an_account_differently_names_the_field(ledger, change, expected):
    fields = {"flags": LIMITED, "medium_token": "card-ann"}
    ledger.open(ledger.describe("ann", **fields))
    assert ledger.open(ledger.describe("ann", **(fields | change))) == [expected]
    assert ledger.open(ledger.describe("ann", **fields)) == [AccountResult.EXISTS]


def test_bad_accounts_are_refused(ledger):
    zero = dataclasses.replace(ledger.describe("zero"), account_id=uuid.UUID(int=0))
    both_limits = ledger.describe(
        "both",
        flags=AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS
        | AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS,
    )
    no_code = ledger.describe("no-code", code="")
    assert ledger.open(zero, both_limits, no_code) == [
        AccountResult.ID_MUST_NOT_BE_ZERO,
        AccountResult.FLAGS_ARE_MUTUALLY_EXCLUSIVE,
        AccountResult.CODE_MUST_NOT_BE_EMPTY,
    ]
    # None of them was created: the names are still free.
    assert ledger.open(ledger.describe("both"), ledger.describe("no-code")) == [
        AccountResult.OK,
        AccountResult.OK,
    ]
