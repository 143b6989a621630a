"""Counter continuity as clearing checks it: from what arrived and what it knew,
clearing learns which records are missing, repeated, contradictory, forged or
inconsistent with the purse, and which it may post."""

from __future__ import annotations

import dataclasses
import random

from hypothesis import given
from hypothesis import strategies as st

from farebridge.codecs.cards import (
    BalanceBreak,
    CardCounter,
    CardState,
    CardTransaction,
    CounterConflict,
    CounterGap,
    check_continuity,
)

from .conftest import ALICE, BOB, history, known_keys, record

ALICE_WEEK = history(
    ALICE,
    """
    # counter kind   amount  balance_after  device
      1       load   5000    5000           topup-central-kiosk
      2       debit  1200    3800           metro-central-gate-1
      3       debit   900    2900           bus-harbour-reader-1
      4       debit  1200    1700           metro-central-gate-2
      5       load   2000    3700           topup-harbour-kiosk
      6       debit  1500    2200           ferry-pier-reader-1
    """,
)
FRESH_ALICE = {ALICE: (0, 0)}


def _counters(transactions: tuple[CardTransaction, ...]) -> list[tuple[str, int]]:
    return [(t.card_id, t.counter) for t in transactions]


def test_a_complete_history_is_clean_and_sequenced_in_counter_order() -> None:
    report = check_continuity(reversed(ALICE_WEEK), FRESH_ALICE, known_keys)
    assert report.clean
    assert list(report.sequenced) == ALICE_WEEK


def test_missing_counters_are_reported_as_a_gap() -> None:
    """Counters 3 and 4 are on a bus reader that has not uploaded yet."""
    arrived = [ALICE_WEEK[0], ALICE_WEEK[1], ALICE_WEEK[4], ALICE_WEEK[5]]
    report = check_continuity(arrived, FRESH_ALICE, known_keys)
    assert report.gaps == (CounterGap(ALICE, 3, 4),)
    assert report.balance_breaks == (), "no chain to check across a gap"
    assert _counters(report.sequenced) == [(ALICE, 1), (ALICE, 2), (ALICE, 5), (ALICE, 6)]


def test_a_gap_right_after_what_clearing_knew_is_found() -> None:
    report = check_continuity(ALICE_WEEK[3:], {ALICE: (1, 5000)}, known_keys)
    assert report.gaps == (CounterGap(ALICE, 2, 3),)


def test_without_a_known_state_the_chain_starts_at_the_lowest_counter() -> None:
    report = check_continuity(ALICE_WEEK[2:], {}, known_keys)
    assert report.clean
    assert _counters(report.sequenced)[0] == (ALICE, 3)


def test_an_identical_copy_is_a_duplicate_and_sequenced_once() -> None:
    """A reader retried its upload: the same debit arrives twice."""
    report = check_continuity([*ALICE_WEEK, ALICE_WEEK[2]], FRESH_ALICE, known_keys)
    assert report.duplicates == (CardCounter(ALICE, 3),)
    assert report.conflicts == ()
    assert list(report.sequenced) == ALICE_WEEK
    assert not report.clean


def test_two_different_records_with_one_counter_are_a_conflict() -> None:
    """A cloned card paid the ferry and the metro with the same counter 6."""
    clone = record(ALICE, "6", "debit", "1200", "2500", "metro-central-gate-1")
    report = check_continuity([*ALICE_WEEK, clone], FRESH_ALICE, known_keys)
    (conflict,) = report.conflicts
    assert (conflict.card_id, conflict.counter) == (ALICE, 6)
    assert set(conflict.versions) == {ALICE_WEEK[5], clone}
    assert report.duplicates == ()
    assert _counters(report.sequenced) == [(ALICE, n) for n in range(1, 6)]
    assert report.gaps == (), "the counter did arrive"


def test_a_conflict_holds_back_only_its_own_counter() -> None:
    clone = record(ALICE, "3", "debit", "100", "3700", "bus-harbour-reader-2")
    report = check_continuity([*ALICE_WEEK, clone], FRESH_ALICE, known_keys)
    assert report.conflicts == (
        CounterConflict(ALICE, 3, tuple(sorted([ALICE_WEEK[2], clone], key=repr))),
    )
    assert report.balance_breaks == (), "counter 4 has nothing certain to follow"
    assert _counters(report.sequenced) == [(ALICE, n) for n in (1, 2, 4, 5, 6)]


def test_a_balance_that_does_not_follow_is_a_break() -> None:
    """At counter 4 the card paid 1,200 from 2,900 but claims 2,700 left."""
    tampered = history(
        ALICE,
        """
        # counter kind   amount  balance_after  device
          3       debit   900    2900           bus-harbour-reader-1
          4       debit  1200    2700           metro-central-gate-2
          5       load   2000    4700           topup-harbour-kiosk
        """,
    )
    report = check_continuity(tampered, {ALICE: (2, 3800)}, known_keys)
    assert report.balance_breaks == (BalanceBreak(ALICE, 4, 1700, 2700),)
    assert report.gaps == ()
    assert len(report.sequenced) == 3, "breaks flag records, they do not drop them"


def test_a_break_against_what_clearing_knew_is_found() -> None:
    report = check_continuity(ALICE_WEEK[1:], {ALICE: (1, 4000)}, known_keys)
    assert report.balance_breaks == (BalanceBreak(ALICE, 2, 2800, 3800),)


def test_loads_raise_the_balance_in_the_chain() -> None:
    report = check_continuity(ALICE_WEEK[4:], {ALICE: (4, 1700)}, known_keys)
    assert report.clean


def test_an_altered_record_is_forged_and_fills_no_gap() -> None:
    """A reader rewrote the fare of counter 3 from 900 to 90."""
    altered = dataclasses.replace(ALICE_WEEK[2], amount_minor=90, balance_after_minor=3710)
    arrived = [*ALICE_WEEK[:2], altered, *ALICE_WEEK[3:]]
    report = check_continuity(arrived, FRESH_ALICE, known_keys)
    assert report.forged == (altered,)
    assert report.gaps == (CounterGap(ALICE, 3, 3),)
    assert altered not in report.sequenced


def test_without_keys_nothing_is_called_forged() -> None:
    altered = dataclasses.replace(ALICE_WEEK[2], device_id="somewhere-else")
    report = check_continuity([*ALICE_WEEK[:2], altered, *ALICE_WEEK[3:]], FRESH_ALICE)
    assert report.forged == ()
    assert report.clean


def test_records_of_unknown_cards_are_unverifiable() -> None:
    stranger = dataclasses.replace(ALICE_WEEK[1], card_id="tok-stranger")
    report = check_continuity([*ALICE_WEEK, stranger], FRESH_ALICE, known_keys)
    assert report.unverifiable == (stranger,)
    assert list(report.sequenced) == ALICE_WEEK


def test_counters_clearing_already_accepted_are_replays() -> None:
    """Yesterday's upload arrives again with today's."""
    report = check_continuity(ALICE_WEEK, {ALICE: (3, 2900)}, known_keys)
    assert report.replays == (CardCounter(ALICE, 1), CardCounter(ALICE, 2), CardCounter(ALICE, 3))
    assert _counters(report.sequenced) == [(ALICE, 4), (ALICE, 5), (ALICE, 6)]
    assert report.gaps == ()
    assert report.balance_breaks == ()


def test_cards_are_checked_independently() -> None:
    bobs_day = history(
        BOB,
        """
        # counter kind   amount  balance_after  device
          41      debit   900    8100           bus-harbour-reader-1
          43      debit   900    7200           bus-harbour-reader-2
        """,
    )
    report = check_continuity([*bobs_day, *ALICE_WEEK], {**FRESH_ALICE, BOB: (40, 9000)})
    assert report.gaps == (CounterGap(BOB, 42, 42),)
    assert _counters(report.sequenced) == [
        *[(ALICE, n) for n in range(1, 7)],
        (BOB, 41),
        (BOB, 43),
    ]


def test_a_plain_tuple_and_a_card_state_mean_the_same() -> None:
    as_tuple = check_continuity(ALICE_WEEK[2:], {ALICE: (2, 3800)})
    as_state = check_continuity(ALICE_WEEK[2:], {ALICE: CardState(2, 3800)})
    assert as_tuple == as_state
    assert as_tuple.clean


@st.composite
def _genuine_history(draw: st.DrawFn) -> list[CardTransaction]:
    """A random history of Alice's card: loads and affordable fares."""
    balance, rows = 0, []
    for counter in range(1, draw(st.integers(1, 25)) + 1):
        amount = draw(st.integers(0, 3000))
        kind = "debit" if amount <= balance and draw(st.booleans()) else "load"
        balance += amount if kind == "load" else -amount
        rows.append(f"{counter} {kind} {amount} {balance} reader-{counter % 3}")
    return history(ALICE, "\n".join(rows))


@given(full=_genuine_history(), seed=st.integers(), dropped=st.sets(st.integers(1, 25)))
def test_gaps_are_exactly_the_dropped_counters_below_the_last_arrival(
    full: list[CardTransaction], seed: int, dropped: set[int]
) -> None:
    arrived = [t for t in full if t.counter not in dropped]
    random.Random(seed).shuffle(arrived)
    report = check_continuity(arrived, FRESH_ALICE, known_keys)
    last = max((t.counter for t in arrived), default=0)
    reported = {n for gap in report.gaps for n in range(gap.first_missing, gap.last_missing + 1)}
    assert reported == {n for n in dropped if n < last}
    assert report.balance_breaks == ()
    assert report.forged == ()
    assert report.conflicts == ()
    assert sorted(arrived, key=lambda t: t.counter) == list(report.sequenced)


@given(full=_genuine_history(), seed=st.integers(), extra=st.lists(st.integers(0, 24)))
def test_the_report_does_not_depend_on_arrival_order_or_retries(
    full: list[CardTransaction], seed: int, extra: list[int]
) -> None:
    retried = full + [full[i % len(full)] for i in extra]
    shuffled = list(retried)
    random.Random(seed).shuffle(shuffled)
    in_order = check_continuity(retried, FRESH_ALICE, known_keys)
    assert check_continuity(shuffled, FRESH_ALICE, known_keys) == in_order
    assert list(in_order.sequenced) == full
    assert {d.counter for d in in_order.duplicates} == {full[i % len(full)].counter for i in extra}


@given(full=_genuine_history(), victim=st.integers(0, 24), delta=st.integers(1, 500))
def test_a_debit_with_a_doctored_balance_is_forged_under_keys(
    full: list[CardTransaction], victim: int, delta: int
) -> None:
    target = full[victim % len(full)]
    doctored = dataclasses.replace(target, balance_after_minor=target.balance_after_minor + delta)
    arrived = [doctored if t is target else t for t in full]
    report = check_continuity(arrived, FRESH_ALICE, known_keys)
    assert report.forged == (doctored,)
    unchecked = check_continuity(arrived, FRESH_ALICE)
    assert unchecked.balance_breaks[0] == BalanceBreak(
        ALICE, target.counter, target.balance_after_minor, doctored.balance_after_minor
    )
