"""The simulator's stored-value card behaves towards readers and clearing as a
real card does: it pays only what it holds, counts every transaction, and
signs with the key its issuer diversified for it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from farebridge.codecs.cards import (
    CardDebit,
    CardLoad,
    CardRecordError,
    CardTransaction,
    check_continuity,
    verify_debit,
    verify_load,
)
from simulators._card import CounterExhaustedError, InsufficientBalanceError, SimulatedCard

from .conftest import AID, ALICE, ALICE_UID, DAY, MASTER_KEY, SYSTEM_ID, key_of, known_keys


def _alices_card(balance_minor: int = 5000) -> SimulatedCard:
    return SimulatedCard.issue(
        ALICE,
        ALICE_UID,
        master_key=MASTER_KEY,
        aid=AID,
        system_identifier=SYSTEM_ID,
        balance_minor=balance_minor,
    )


def test_an_issued_card_starts_at_counter_zero_with_its_purse() -> None:
    card = _alices_card()
    assert (card.card_id, card.uid, card.counter, card.balance_minor) == (
        ALICE,
        ALICE_UID,
        0,
        5000,
    )


def test_a_debit_pays_from_the_purse_and_is_signed_with_the_diversified_key() -> None:
    card = _alices_card()
    debit = card.debit(1200, "metro-central-gate-1", DAY)
    assert debit == CardDebit(
        ALICE, 1, 1200, 3800, "metro-central-gate-1", DAY, debit.mac
    )  # every field as tapped
    verify_debit(key_of(ALICE), debit)
    assert (card.counter, card.balance_minor) == (1, 3800)


def test_a_load_adds_value_and_takes_the_next_counter() -> None:
    card = _alices_card(balance_minor=300)
    card.debit(300, "bus-harbour-reader-1", DAY)
    load = card.load(10000, "topup-central-kiosk", DAY + timedelta(minutes=5))
    assert isinstance(load, CardLoad)
    assert (load.counter, load.balance_after_minor) == (2, 10000)
    verify_load(key_of(ALICE), load)
    assert card.state == (2, 10000)


def test_a_fare_above_the_balance_is_refused_and_changes_nothing() -> None:
    card = _alices_card(balance_minor=800)
    with pytest.raises(InsufficientBalanceError, match="holds 800, cannot pay 1200"):
        card.debit(1200, "metro-central-gate-1", DAY)
    assert (card.counter, card.balance_minor) == (0, 800)


def test_a_negative_amount_is_refused_and_changes_nothing() -> None:
    card = _alices_card()
    with pytest.raises(CardRecordError, match="amount_minor"):
        card.debit(-500, "metro-central-gate-1", DAY)
    with pytest.raises(CardRecordError, match="amount_minor"):
        card.load(-500, "topup-central-kiosk", DAY)
    assert card.state == (0, 5000)


def test_a_card_with_no_counter_values_left_signs_nothing() -> None:
    card = SimulatedCard(ALICE, ALICE_UID, key_of(ALICE), balance_minor=5000, counter=2**32 - 1)
    with pytest.raises(CounterExhaustedError):
        card.debit(100, "metro-central-gate-1", DAY)
    assert card.state == (2**32 - 1, 5000)


def test_the_card_key_never_shows_in_its_repr() -> None:
    card = _alices_card()
    assert key_of(ALICE).hex() not in repr(card).lower()
    assert "balance_minor=5000" in repr(card)


@given(
    commands=st.lists(
        st.tuples(st.sampled_from(["debit", "load"]), st.integers(0, 5000)), max_size=30
    )
)
def test_whatever_a_card_signs_is_a_clean_history_for_clearing(
    commands: list[tuple[str, int]],
) -> None:
    card = _alices_card(balance_minor=0)
    signed: list[CardTransaction] = []
    for minute, (kind, amount) in enumerate(commands):
        at = DAY + timedelta(minutes=minute)
        if kind == "load":
            signed.append(card.load(amount, "topup-central-kiosk", at))
        elif amount <= card.balance_minor:
            signed.append(card.debit(amount, "metro-central-gate-1", at))
        else:
            with pytest.raises(InsufficientBalanceError):
                card.debit(amount, "metro-central-gate-1", at)
    report = check_continuity(signed, {ALICE: (0, 0)}, known_keys)
    assert report.clean
    assert list(report.sequenced) == signed
    assert card.state == (len(signed), signed[-1].balance_after_minor if signed else 0)
