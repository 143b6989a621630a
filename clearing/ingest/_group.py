"""Group commit: batches that wait for the database share one transaction.

On SQLite every writer takes its turn, and each turn ends in a commit that
syncs the write-ahead log and writes every page the turn dirtied. A tap
dirties a leaf page in each index whose keys arrive out of order (media and
rider accounts always; tap ids too where readers choose them at random), so
at 500 taps per commit most of those pages are written once per tap. While
one batch holds the database, the batches that arrive queue behind it; when
its turn ends, the first of them leads the rest through one transaction and
one commit. Fewer syncs, and pages shared by several batches are written
once: the same stored taps, fewer bytes.

Nothing is acknowledged before the commit that stores it. A group that fails
(a concurrent upload won a race, a bug in one batch) is rolled back whole,
and each of its batches then runs in a transaction of its own, so one
batch's error is that batch's alone and never costs another its taps.

There is no timer: a batch that finds the database idle commits alone at
once, so grouping adds no latency when there is no queue to group.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from clearing.storage import Database

Work = TypeVar("Work")
Result = TypeVar("Result")

INSERT_ATTEMPTS = 3
"""Transactions a batch of its own gets when a concurrent upload of the same
tap wins the race: the next attempt sees that row and answers duplicate."""


class _Job(Generic[Work, Result]):
    """One caller's work, waiting for its group's commit or for the lead."""

    __slots__ = ("done", "error", "leads", "result", "size", "work")

    def __init__(self, work: Work, size: int) -> None:
        self.work = work
        self.size = size
        self.done = threading.Event()
        self.leads = False
        self.result: Result | None = None
        self.error: BaseException | None = None

    def outcome(self) -> Result:
        if self.error is not None:
            raise self.error
        if self.result is None:
            raise RuntimeError("the group this work belonged to was interrupted")
        return self.result


class GroupCommit(Generic[Work, Result]):
    """Runs ``store(session, work)`` for each caller, in shared transactions.

    The caller that finds no group running leads: it takes the queue's
    oldest work, up to ``max_size`` (by ``size_of``, and always at least
    one), stores it all in one transaction and wakes its owners; then it
    hands the lead to the oldest caller still waiting. Every caller's work
    is stored by exactly one committed transaction, in arrival order.

    Never call ``run`` from inside a transaction of the same database: on
    SQLite a waiting caller that holds the writer's turn would wait for a
    leader that waits for that turn.
    """

    def __init__(
        self,
        database: Database,
        store: Callable[[Session, Work], Result],
        *,
        max_size: int,
        size_of: Callable[[Work], int],
    ) -> None:
        if max_size < 1:
            raise ValueError("a group holds at least one unit of work")
        self._database = database
        self._store = store
        self._max_size = max_size
        self._size_of = size_of
        self._lock = threading.Lock()
        self._queue: deque[_Job[Work, Result]] = deque()
        self._leading = False

    def run(self, work: Work) -> Result:
        """Stores ``work`` and returns what ``store`` answered for it, once
        committed; raises what ``store`` raised for it alone."""
        job: _Job[Work, Result] = _Job(work, self._size_of(work))
        with self._lock:
            self._queue.append(job)
            leads = not self._leading
            self._leading = True
        if not leads:
            job.done.wait()
            if not job.leads:
                return job.outcome()
        self._lead()
        return job.outcome()

    def _lead(self) -> None:
        with self._lock:
            group = self._take()
        try:
            self._commit(group)
        finally:
            with self._lock:
                successor = self._queue[0] if self._queue else None
                if successor is None:
                    self._leading = False
                else:
                    successor.leads = True
            for job in group:
                job.done.set()
            if successor is not None:
                successor.done.set()

    def _take(self) -> list[_Job[Work, Result]]:
        group = [self._queue.popleft()]
        size = group[0].size
        while self._queue and size + self._queue[0].size <= self._max_size:
            job = self._queue.popleft()
            group.append(job)
            size += job.size
        return group

    def _commit(self, group: Sequence[_Job[Work, Result]]) -> None:
        try:
            with self._database.transaction() as session:
                results = [self._store(session, job.work) for job in group]
        except Exception as error:
            if len(group) == 1 and not isinstance(error, IntegrityError):
                group[0].error = error
                return
            # The group's first try counts as a lone batch's first attempt.
            attempts = INSERT_ATTEMPTS - 1 if len(group) == 1 else INSERT_ATTEMPTS
            for job in group:
                self._alone(job, attempts)
            return
        for job, result in zip(group, results, strict=True):
            job.result = result

    def _alone(self, job: _Job[Work, Result], attempts: int) -> None:
        for attempt in range(attempts):
            try:
                with self._database.transaction() as session:
                    job.result = self._store(session, job.work)
                return
            except IntegrityError as error:
                if attempt == attempts - 1:
                    job.error = error
            except Exception as error:
                job.error = error
                return
