"""The replay rule, held to a plain model of it: while any code admitted for a
credential is still fresh enough to pass the gate, that credential's codes must
keep raising the counter; once all of them are stale, it starts afresh."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from farebridge.codecs.ridecode import (
    CredentialId,
    ReplayGuard,
    ReplayMark,
    advance,
    is_replay,
)

from .conftest import T0

FRESHNESS = timedelta(seconds=60)
CREDENTIALS = [
    CredentialId("tapwallet", 1),
    CredentialId("tapwallet", 2),
    CredentialId("payroute", 1),
]

# One scan: which credential, its counter, how many ms the reader's clock moved
# since the previous scan, and how old the code is when scanned (within freshness).
scans = st.lists(
    st.tuples(
        st.sampled_from(CREDENTIALS),
        st.integers(0, 12),
        st.integers(0, 45_000),
        st.integers(0, 60_000),
    ),
    max_size=60,
)


@given(scans)
def test_guard_matches_the_model(history: list[tuple[CredentialId, int, int, int]]) -> None:
    guard = ReplayGuard()
    admitted: dict[CredentialId, list[tuple[int, datetime]]] = {}
    now = T0
    for credential, counter, step_ms, age_ms in history:
        now += timedelta(milliseconds=step_ms)
        timestamp = now - timedelta(milliseconds=age_ms)
        episode = admitted.get(credential, [])
        if all(now - made > FRESHNESS for _, made in episode):
            episode = admitted[credential] = []
        expected = any(counter <= earlier for earlier, _ in episode)
        assert guard.is_replay(credential, counter, now) == expected
        if not expected:
            guard.record(credential, counter, timestamp, now, FRESHNESS)
            admitted.setdefault(credential, []).append((counter, timestamp))


@given(scans)
def test_memory_holds_only_credentials_seen_recently(
    history: list[tuple[CredentialId, int, int, int]],
) -> None:
    guard = ReplayGuard()
    now = T0
    for credential, counter, step_ms, _ in history:
        now += timedelta(milliseconds=step_ms)
        if not guard.is_replay(credential, counter, now):
            guard.record(credential, counter, now, now, FRESHNESS)
    assert len(guard) <= len(CREDENTIALS)
    later = now + 2 * FRESHNESS + timedelta(milliseconds=1)
    guard.record(CredentialId("nightbus", 9), 1, later, later, FRESHNESS)
    assert len(guard) == 1


def test_many_riders_are_forgotten_once_their_codes_are_stale() -> None:
    guard = ReplayGuard()
    for minute in range(10):
        now = T0 + timedelta(minutes=minute)
        for serial in range(1000):
            guard.record(CredentialId("tapwallet", minute * 1000 + serial), 1, now, now, FRESHNESS)
    assert len(guard) <= 3000


def test_the_pure_rule_is_what_the_clearing_house_repeats() -> None:
    mark = advance(None, 5, T0, FRESHNESS)
    assert mark == ReplayMark(5, int((T0 + FRESHNESS).timestamp() * 1000))
    assert is_replay(mark, 5)
    assert is_replay(mark, 4)
    assert not is_replay(mark, 6)
    assert not is_replay(None, 0)
    assert advance(mark, 6, T0 - FRESHNESS, FRESHNESS) == ReplayMark(6, mark.remember_until_ms)
