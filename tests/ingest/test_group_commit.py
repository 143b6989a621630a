"""Group commit: batches that queue for the database share one transaction,
every caller gets its own answer only once that transaction has committed,
and one batch's failure never costs another batch its taps."""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from clearing.ingest import MAX_GROUP_TAPS, Ingestor
from clearing.ingest._group import GroupCommit
from clearing.ingest._journal import append_taps
from clearing.registry import register_device, register_participant
from clearing.storage import Database
from clearing.storage.models import TapRow
from clearing.values import Device, Mode, Participant, Role

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def _gate(url: str) -> Iterator[Database]:
    """A database where reader gate-1 of operator op may store taps."""
    db = Database(url)
    db.migrate()
    with db.transaction() as session:
        register_participant(session, Participant("op", "Metro", Role.OPERATOR, "SGD"), NOW)
        register_device(session, Device("gate-1", "op", b"k" * 32, "stop-1", Mode.METRO), NOW)
    try:
        yield db
    finally:
        db.dispose()


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    yield from _gate(database_url)


@pytest.fixture
def sqlite_database(sqlite_url: str) -> Iterator[Database]:
    yield from _gate(sqlite_url)


class Recorder:
    """Stores one tap per unit of work and notes which transaction did it."""

    def __init__(self) -> None:
        self.transactions: list[list[str]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.failing: set[str] = set()
        self.races: set[str] = set()

    def store(self, session: Session, tap_id: str) -> str:
        if not self.gate.is_set():
            self.gate.wait(timeout=30)
        # Each transaction has a session of its own.
        if "recorded" not in session.info:
            session.info["recorded"] = []
            self.transactions.append(session.info["recorded"])
        session.info["recorded"].append(tap_id)
        digest = hashlib.sha256(tap_id.encode()).digest()
        row = (tap_id, "gate-1", "op", 1, NOW, "card-1", "on", "b-1", NOW, digest)
        append_taps(session, [row])
        if tap_id in self.failing:
            raise ValueError(f"{tap_id} is broken")
        if tap_id in self.races:
            self.races.discard(tap_id)
            raise IntegrityError("INSERT INTO taps", {}, Exception("a concurrent upload won"))
        return f"stored {tap_id}"


def _stored(database: Database) -> list[str]:
    with database.transaction() as session:
        return sorted(session.scalars(select(TapRow.tap_id)))


def _commits(database: Database) -> list[int]:
    counted: list[int] = []
    event.listen(database.engine, "commit", lambda _connection: counted.append(1))
    return counted


def _queue_behind_a_slow_first(
    group: GroupCommit[str, str], recorder: Recorder, first: str, then: list[str]
) -> dict[str, Future[str]]:
    """``first`` starts alone and holds its transaction until ``then`` are
    all waiting behind it."""
    pool = ThreadPoolExecutor(len(then) + 1)
    recorder.gate.clear()
    futures = {first: pool.submit(group.run, first)}
    _wait_for(lambda: len(group._queue) == 0 and group._leading)
    for tap_id in then:
        futures[tap_id] = pool.submit(group.run, tap_id)
    _wait_for(lambda: len(group._queue) == len(then))
    recorder.gate.set()
    pool.shutdown(wait=True)
    return futures


def _wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def test_batches_that_wait_share_the_next_transaction(database: Database) -> None:
    recorder = Recorder()
    group = GroupCommit(database, recorder.store, max_size=100, size_of=lambda _work: 1)
    commits = _commits(database)
    waiting = [f"t-{n}" for n in range(1, 6)]
    futures = _queue_behind_a_slow_first(group, recorder, "t-0", waiting)
    assert {tap_id: f.result() for tap_id, f in futures.items()} == {
        tap_id: f"stored {tap_id}" for tap_id in ["t-0", *waiting]
    }
    assert recorder.transactions == [["t-0"], waiting]
    assert len(commits) == 2
    assert _stored(database) == sorted(["t-0", *waiting])
    assert not group._leading


def test_a_group_holds_at_most_its_size_and_keeps_arrival_order(database: Database) -> None:
    recorder = Recorder()
    group = GroupCommit(database, recorder.store, max_size=5, size_of=lambda _work: 2)
    waiting = [f"t-{n}" for n in range(1, 6)]
    _queue_behind_a_slow_first(group, recorder, "t-0", waiting)
    assert recorder.transactions == [["t-0"], ["t-1", "t-2"], ["t-3", "t-4"], ["t-5"]]
    assert _stored(database) == sorted(["t-0", *waiting])


def test_work_larger_than_the_limit_still_runs_alone(database: Database) -> None:
    recorder = Recorder()
    group = GroupCommit(database, recorder.store, max_size=1, size_of=lambda _work: 10)
    _queue_behind_a_slow_first(group, recorder, "t-0", ["t-1", "t-2"])
    assert recorder.transactions == [["t-0"], ["t-1"], ["t-2"]]


def test_a_failing_batch_fails_alone_and_the_rest_of_its_group_commits(
    database: Database,
) -> None:
    recorder = Recorder()
    recorder.failing = {"t-3"}
    group = GroupCommit(database, recorder.store, max_size=100, size_of=lambda _work: 1)
    waiting = [f"t-{n}" for n in range(1, 6)]
    futures = _queue_behind_a_slow_first(group, recorder, "t-0", waiting)
    with pytest.raises(ValueError, match="t-3 is broken"):
        futures["t-3"].result()
    for tap_id in ["t-0", "t-1", "t-2", "t-4", "t-5"]:
        assert futures[tap_id].result() == f"stored {tap_id}"
    # The group stopped at the broken batch and was rolled back whole; then
    # each batch ran on its own, and the broken one's row went with it.
    assert recorder.transactions == [["t-0"], waiting[:3], *([t] for t in waiting)]
    assert _stored(database) == ["t-0", "t-1", "t-2", "t-4", "t-5"]


def test_a_lost_race_is_retried_and_answered(database: Database) -> None:
    """An IntegrityError means a concurrent upload of the same tap won; the
    batch's next attempt, on its own, sees that row."""
    recorder = Recorder()
    recorder.races = {"t-2"}
    group = GroupCommit(database, recorder.store, max_size=100, size_of=lambda _work: 1)
    futures = _queue_behind_a_slow_first(group, recorder, "t-0", ["t-1", "t-2"])
    assert {tap_id: f.result() for tap_id, f in futures.items()} == {
        "t-0": "stored t-0", "t-1": "stored t-1", "t-2": "stored t-2",
    }  # fmt: skip
    assert _stored(database) == ["t-0", "t-1", "t-2"]


def test_a_lone_batch_that_keeps_losing_races_fails_after_three_attempts(
    database: Database,
) -> None:
    attempts: list[str] = []

    def always_raced(session: Session, tap_id: str) -> str:
        attempts.append(tap_id)
        raise IntegrityError("INSERT INTO taps", {}, Exception("a concurrent upload won"))

    group = GroupCommit(database, always_raced, max_size=100, size_of=lambda _work: 1)
    with pytest.raises(IntegrityError):
        group.run("t-1")
    assert attempts == ["t-1"] * 3
    assert not group._leading
    recorder = Recorder()
    assert GroupCommit(database, recorder.store, max_size=1, size_of=len).run("t-2") == (
        "stored t-2"
    )


def test_an_error_alone_is_raised_once_and_the_next_caller_leads(database: Database) -> None:
    recorder = Recorder()
    recorder.failing = {"t-1"}
    group = GroupCommit(database, recorder.store, max_size=100, size_of=lambda _work: 1)
    with pytest.raises(ValueError, match="t-1 is broken"):
        group.run("t-1")
    assert recorder.transactions == [["t-1"]]
    assert group.run("t-2") == "stored t-2"
    assert _stored(database) == ["t-2"]


def test_a_group_needs_room_for_some_work(database: Database) -> None:
    with pytest.raises(ValueError, match="at least one"):
        GroupCommit(database, Recorder().store, max_size=0, size_of=len)


def test_ingest_groups_batches_on_sqlite_and_commits_them_alone_on_postgresql(
    database: Database,
) -> None:
    """SQLite's writers take turns anyway; PostgreSQL's transactions run side
    by side, where grouping measured slower. An explicit limit wins."""
    expected = MAX_GROUP_TAPS if database.dialect == "sqlite" else 1
    assert Ingestor(database, lambda: NOW)._group._max_size == expected
    assert Ingestor(database, lambda: NOW, max_group_taps=250)._group._max_size == 250


@given(
    kinds=st.lists(st.sampled_from(["ok", "broken", "raced"]), min_size=1, max_size=12),
    max_size=st.integers(min_value=1, max_value=6),
)
def test_concurrent_callers_each_get_their_own_answer_and_only_good_work_is_stored(
    sqlite_database: Database, kinds: list[str], max_size: int
) -> None:
    """Whatever mix of good, broken and raced work arrives at once, and
    however it is grouped: each caller gets its own answer, exactly the good
    and raced work is stored, and the lead is given up at the end."""
    prefix = uuid.uuid4().hex[:12]
    ids = [f"{prefix}-{n}" for n in range(len(kinds))]
    recorder = Recorder()
    recorder.failing = {i for i, kind in zip(ids, kinds, strict=True) if kind == "broken"}
    recorder.races = {i for i, kind in zip(ids, kinds, strict=True) if kind == "raced"}
    group = GroupCommit(sqlite_database, recorder.store, max_size=max_size, size_of=lambda _w: 1)
    with ThreadPoolExecutor(len(ids)) as pool:
        futures = {tap_id: pool.submit(group.run, tap_id) for tap_id in ids}
    for tap_id, kind in zip(ids, kinds, strict=True):
        if kind == "broken":
            with pytest.raises(ValueError, match="is broken"):
                futures[tap_id].result()
        else:
            assert futures[tap_id].result() == f"stored {tap_id}"
    stored = {tap_id for tap_id in _stored(sqlite_database) if tap_id.startswith(prefix)}
    assert stored == {i for i, kind in zip(ids, kinds, strict=True) if kind != "broken"}
    assert not group._leading
    assert not group._queue
