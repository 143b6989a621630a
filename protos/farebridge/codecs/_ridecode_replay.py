"""Replay defence: each credential's counter must rise, code after code.

A phone signs every code with a counter one higher than the last, so a code
whose counter is not above the highest one already admitted for the same
credential is a copy (or an old screenshot). Only that highest counter needs
remembering, and only until every code it could shadow has gone stale: the
freshness check refuses those on its own from then on. That keeps the memory
bounded by the riders seen within one freshness window.

The rule is pure (``is_replay``, ``advance``) so that the clearing house can
repeat it over the codes all readers report; ``ReplayGuard`` is a reader's
in-memory table of it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import NamedTuple

from farebridge.codecs._ridecode_fields import unix_millis
from farebridge.codecs._ridecode_lists import CredentialId


class ReplayMark(NamedTuple):
    """What is remembered of one credential.

    Attributes:
        highest_counter: the highest counter admitted so far.
        remember_until_ms: unix milliseconds after which every code this mark
            could refuse is stale anyway, so the mark may be forgotten.
    """

    highest_counter: int
    remember_until_ms: int


def is_replay(mark: ReplayMark | None, counter: int) -> bool:
    """True when ``counter`` does not rise above what ``mark`` remembers."""
    return mark is not None and counter <= mark.highest_counter


def advance(
    mark: ReplayMark | None, counter: int, timestamp: datetime, freshness: timedelta
) -> ReplayMark:
    """The mark after admitting a code (which ``is_replay`` let through)."""
    until = unix_millis(timestamp + freshness)
    if mark is not None:
        until = max(until, mark.remember_until_ms)
    return ReplayMark(counter, until)


def is_forgettable(mark: ReplayMark, now: datetime) -> bool:
    return mark.remember_until_ms < unix_millis(now)


class ReplayGuard:
    """A reader's memory of admitted codes, one ``ReplayMark`` per credential.

    Not thread-safe: a gate owns one guard and admits codes one at a time.
    Forgotten marks are swept at most once per freshness window, so the cost of
    pruning is spread thinly over the admissions.
    """

    def __init__(self) -> None:
        self._marks: dict[CredentialId, ReplayMark] = {}
        self._next_sweep_ms = 0

    def __len__(self) -> int:
        """How many credentials are remembered right now."""
        return len(self._marks)

    def is_replay(self, credential: CredentialId, counter: int, now: datetime) -> bool:
        mark = self._marks.get(credential)
        if mark is not None and is_forgettable(mark, now):
            mark = None
        return is_replay(mark, counter)

    def record(
        self,
        credential: CredentialId,
        counter: int,
        timestamp: datetime,
        now: datetime,
        freshness: timedelta,
    ) -> None:
        """Remembers an admitted code; call only after ``is_replay`` said no."""
        self._sweep(now, freshness)
        mark = self._marks.get(credential)
        if mark is not None and is_forgettable(mark, now):
            mark = None
        self._marks[credential] = advance(mark, counter, timestamp, freshness)

    def _sweep(self, now: datetime, freshness: timedelta) -> None:
        now_ms = unix_millis(now)
        if now_ms < self._next_sweep_ms:
            return
        self._marks = {
            credential: mark
            for credential, mark in self._marks.items()
            if not is_forgettable(mark, now)
        }
        self._next_sweep_ms = now_ms + freshness // timedelta(milliseconds=1)
