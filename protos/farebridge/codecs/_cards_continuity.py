"""Counter and balance continuity of stored-value cards, as clearing checks it.

A card adds one to its counter for every debit and load it signs, and each
record states the balance after it. Given every record that arrived and what
clearing already knew of each card, the sequence tells what is missing
(a reader that has not uploaded yet, or lost taps), what arrived twice, what
contradicts itself (a cloned card spends the same counter twice), and where
the purse changed without a record that explains it.

Findings about the riders' data are values in the report, never exceptions:
clearing decides what to hold back, and an auditor can read why.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple, TypeAlias

from farebridge.codecs._cards_errors import CardMacError
from farebridge.codecs._cards_records import CardLoad, CardTransaction, verify_transaction

CardKeyLookup: TypeAlias = Callable[[str], bytes | None]
"""The card key for a card id, or None when clearing does not know the card."""


class CardState(NamedTuple):
    """What clearing last accepted from a card: its counter and the balance
    after that transaction. A plain ``(counter, balance)`` tuple works too; a
    card issued fresh with a purse of B is ``(0, B)``."""

    counter: int
    balance_after_minor: int


class CardCounter(NamedTuple):
    """One counter value of one card, naming where a finding is."""

    card_id: str
    counter: int


@dataclass(frozen=True)
class CounterGap:
    """Counters ``first_missing..last_missing`` (inclusive) of ``card_id``
    have not arrived, though later ones have."""

    card_id: str
    first_missing: int
    last_missing: int


@dataclass(frozen=True)
class CounterConflict:
    """``card_id`` signed different records with the same counter: a cloned
    card, or a key in the wrong hands. ``versions`` holds each distinct one;
    none of them is sequenced, since which is genuine cannot be told."""

    card_id: str
    counter: int
    versions: tuple[CardTransaction, ...]


@dataclass(frozen=True)
class BalanceBreak:
    """The record at ``counter`` claims ``balance_after_minor``, but the
    record before it and its own amount give ``expected_balance_after_minor``."""

    card_id: str
    counter: int
    expected_balance_after_minor: int
    balance_after_minor: int


@dataclass(frozen=True)
class ContinuityReport:
    """Everything ``check_continuity`` found, each list ordered by card and counter.

    sequenced: the authentic records, one per counter, that clearing has not
        seen before and that no other record contradicts. Gaps and balance
        breaks flag records but do not remove them from here.
    gaps: runs of counters that never arrived.
    duplicates: counters that arrived more than once with identical content;
        the copies are harmless retries.
    conflicts: counters that arrived with different content.
    balance_breaks: records whose balance does not follow from the one before.
    forged: records whose MAC failed under the card's key.
    unverifiable: records of cards the key lookup does not know.
    replays: counters at or below what clearing had already accepted.
    """

    sequenced: tuple[CardTransaction, ...]
    gaps: tuple[CounterGap, ...]
    duplicates: tuple[CardCounter, ...]
    conflicts: tuple[CounterConflict, ...]
    balance_breaks: tuple[BalanceBreak, ...]
    forged: tuple[CardTransaction, ...]
    unverifiable: tuple[CardTransaction, ...]
    replays: tuple[CardCounter, ...]

    @property
    def clean(self) -> bool:
        """True when nothing but ``sequenced`` has entries."""
        findings = (self.gaps, self.duplicates, self.conflicts, self.balance_breaks)
        rejects = (self.forged, self.unverifiable, self.replays)
        return not any(findings + rejects)


_Slots: TypeAlias = dict[CardCounter, list[CardTransaction]]


def check_continuity(
    transactions: Iterable[CardTransaction],
    last_known: Mapping[str, tuple[int, int]],
    keys: CardKeyLookup | None = None,
) -> ContinuityReport:
    """Checks the counters and balances of every card in ``transactions``.

    ``last_known`` maps a card id to the (counter, balance after) clearing
    accepted last; a card absent from it starts its chain at the lowest
    counter that arrived. With ``keys``, every MAC is verified first and
    forged or unverifiable records take no further part, so a forgery can
    neither fill a gap nor cause a conflict. The result depends only on the
    set of records, not on the order they arrived in.
    """
    authentic, forged, unverifiable = _authenticate(transactions, keys)
    fresh, replays = _split_replays(authentic, last_known)
    slots = _slots(fresh)
    distinct = _distinct(slots)
    sequenced = tuple(versions[0] for _, versions in distinct if len(versions) == 1)
    return ContinuityReport(
        sequenced=sequenced,
        gaps=_gaps(slots, last_known),
        duplicates=tuple(slot for slot, copies in sorted(slots.items()) if _repeats(copies)),
        conflicts=tuple(
            CounterConflict(slot.card_id, slot.counter, versions)
            for slot, versions in distinct
            if len(versions) > 1
        ),
        balance_breaks=_balance_breaks(sequenced, last_known),
        forged=_ordered(forged),
        unverifiable=_ordered(unverifiable),
        replays=tuple(sorted(set(replays))),
    )


def _authenticate(
    transactions: Iterable[CardTransaction], keys: CardKeyLookup | None
) -> tuple[list[CardTransaction], list[CardTransaction], list[CardTransaction]]:
    authentic: list[CardTransaction] = []
    forged: list[CardTransaction] = []
    unverifiable: list[CardTransaction] = []
    for transaction in transactions:
        key = None if keys is None else keys(transaction.card_id)
        if keys is not None and key is None:
            unverifiable.append(transaction)
        elif key is not None and not _verifies(key, transaction):
            forged.append(transaction)
        else:
            authentic.append(transaction)
    return authentic, forged, unverifiable


def _verifies(key: bytes, transaction: CardTransaction) -> bool:
    try:
        verify_transaction(key, transaction)
    except CardMacError:
        return False
    return True


def _split_replays(
    transactions: list[CardTransaction], last_known: Mapping[str, tuple[int, int]]
) -> tuple[list[CardTransaction], list[CardCounter]]:
    fresh: list[CardTransaction] = []
    replays: list[CardCounter] = []
    for transaction in transactions:
        known = last_known.get(transaction.card_id)
        if known is not None and transaction.counter <= known[0]:
            replays.append(CardCounter(transaction.card_id, transaction.counter))
        else:
            fresh.append(transaction)
    return fresh, replays


def _slots(transactions: list[CardTransaction]) -> _Slots:
    slots: _Slots = defaultdict(list)
    for transaction in transactions:
        slots[CardCounter(transaction.card_id, transaction.counter)].append(transaction)
    return slots


def _distinct(slots: _Slots) -> list[tuple[CardCounter, tuple[CardTransaction, ...]]]:
    """Each slot's distinct versions, in an order that ignores arrival order."""
    return [(slot, tuple(sorted(set(copies), key=repr))) for slot, copies in sorted(slots.items())]


def _repeats(copies: list[CardTransaction]) -> bool:
    return len(copies) > len(set(copies))


def _gaps(slots: _Slots, last_known: Mapping[str, tuple[int, int]]) -> tuple[CounterGap, ...]:
    counters: dict[str, list[int]] = defaultdict(list)
    for slot in sorted(slots):
        counters[slot.card_id].append(slot.counter)
    gaps: list[CounterGap] = []
    for card_id, present in counters.items():
        known = last_known.get(card_id)
        expected = present[0] if known is None else known[0] + 1
        for counter in present:
            if counter > expected:
                gaps.append(CounterGap(card_id, expected, counter - 1))
            expected = counter + 1
    return tuple(gaps)


def _balance_breaks(
    sequenced: tuple[CardTransaction, ...], last_known: Mapping[str, tuple[int, int]]
) -> tuple[BalanceBreak, ...]:
    """Checks each record against the one just before it, where both are
    known (a gap or a conflict leaves nothing to check against). After a
    break the chain continues from the card's own claim, so one break is
    reported once rather than for every later record."""
    previous: dict[str, CardState] = {
        card_id: CardState(*state) for card_id, state in last_known.items()
    }
    breaks: list[BalanceBreak] = []
    for transaction in sequenced:
        before = previous.get(transaction.card_id)
        expected = _expected_balance(before, transaction)
        if expected is not None and expected != transaction.balance_after_minor:
            breaks.append(
                BalanceBreak(
                    transaction.card_id,
                    transaction.counter,
                    expected,
                    transaction.balance_after_minor,
                )
            )
        previous[transaction.card_id] = CardState(
            transaction.counter, transaction.balance_after_minor
        )
    return tuple(breaks)


def _expected_balance(before: CardState | None, transaction: CardTransaction) -> int | None:
    if before is None or before.counter != transaction.counter - 1:
        return None
    sign = 1 if isinstance(transaction, CardLoad) else -1
    return before.balance_after_minor + sign * transaction.amount_minor


def _ordered(transactions: list[CardTransaction]) -> tuple[CardTransaction, ...]:
    return tuple(sorted(transactions, key=lambda t: (t.card_id, t.counter, repr(t))))
