"""A medium's taps on SQLite: a deferred index, kept as sorted runs that are
written sequentially, off the tap path.

Wallet statements and capping look up taps by medium. A B-tree index on
``taps.medium_token`` takes its keys in no order, one rider at a time, so
every tap touches a leaf page of its own. SQLite's write-ahead log holds
whole pages, so each commit writes each touched page in full and the
checkpoint writes it again: together with the same cost on the ledger's
debit leg (see clearing/ledger/_totals.py), a tap cost about 21 KiB of
writes once the tables had grown, and the tap rate fell by half.
PostgreSQL logs records, not pages, and keeps the plain index.

On SQLite the index is log-structured instead, in two tables:

- ``index_runs`` names the runs of each index and the rowids of the source
  table each covers. A run holds the keys of its rows, sorted, in
  ``index_run_entries`` under ``(run, key, source_rowid)``, so a run is one
  contiguous stretch of that table, written in order.
- Rows past the newest run (the *tail*) are found by scanning the tail
  itself: it is never much longer than ``RUN_ROWS`` while the upkeep keeps
  up.

``maintain`` does one bounded step per call, in the caller's transaction:
it turns the next ``RUN_ROWS`` of the tail into a level-0 run, or merges the
``FANOUT`` oldest runs of a level into one of the next level, a slice of
keys at a time, so no step holds the writer's turn for long. Each entry is
written once per level, in key order; how many runs a lookup visits grows
with the logarithm of the table. ``Upkeep`` runs the steps on a thread of
the serving process.

The tap journal is append-only, so its rowids are dense and stable: SQLite
gives each new row the largest rowid plus one, and VACUUM renumbers only
tables with gaps. Lookups still compare the key on the source row itself,
so a run entry can make a lookup slower but never wrong.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Integer,
    Select,
    and_,
    column,
    func,
    literal_column,
    select,
    table,
    type_coerce,
    union_all,
)
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeEngine

from clearing.storage.models import IndexRunEntryRow, IndexRunRow, TapRow

RUN_ROWS = 65_536
"""Rows of the tail that become one level-0 run. A lookup scans up to
about this many tail rows (about 7 ms for 65,536 here); each build sorts
this many keys in one step (about 80 ms of the writer's turn here)."""
FANOUT = 16
"""Runs of one level merged into one run of the next. Each tap's entry is
written once per level it reaches, and a lookup visits up to FANOUT - 1
runs per level: at 16, most of a city day of 15 million taps is written
twice (level 0, then runs of a million); at 8, three times."""
SLICE_ENTRIES = 65_536
"""Entries a merge moves per step, at most (one key's entries move
together, however many)."""


@dataclass(frozen=True)
class DeferredIndex:
    """An index of one column of an append-only table, kept as sorted runs
    on SQLite."""

    name: str
    column: Any
    """The mapped column, as ``TapRow.medium_token``."""

    @property
    def table(self) -> str:
        return str(self.column.table.name)

    @property
    def key(self) -> str:
        return str(self.column.key)


TAPS_BY_MEDIUM = DeferredIndex("taps_medium_token", TapRow.medium_token)
DEFERRED_INDEXES = (TAPS_BY_MEDIUM,)

_log = logging.getLogger(__name__)
_RUNS = IndexRunRow.__table__
_ENTRIES = IndexRunEntryRow.__table__


def key_among(session: Session, index: DeferredIndex, keys: Sequence[Any]) -> ColumnElement[bool]:
    """SQL condition on ``index.table``: the row's key is among ``keys``.

    On PostgreSQL that is the plain ``IN``, which its index answers. On
    SQLite the rows are found through the runs and the tail, and the key
    is compared on the row as well.
    """
    key_column = index.column
    condition: ColumnElement[bool] = key_column.in_(keys)
    if session.get_bind().dialect.name != "sqlite":
        return condition
    rowid = literal_column(f"{index.table}.rowid", Integer)
    return and_(condition, rowid.in_(_candidate_rowids(index, keys, key_column.type)))


def _candidate_rowids(
    index: DeferredIndex, keys: Sequence[Any], key_type: TypeEngine[Any]
) -> Select[Any]:
    """Rowids of ``index.table`` that may hold one of ``keys``: what the runs
    list for them, and the tail's rows that hold them."""
    entry_key = type_coerce(_ENTRIES.c.key, key_type)
    in_runs = select(_ENTRIES.c.source_rowid).where(
        _ENTRIES.c.run.in_(select(_RUNS.c.run).where(_RUNS.c.index_name == index.name)),
        entry_key.in_(keys),
    )
    tail = table(index.table, column("rowid"), Column(index.key, key_type)).alias("tail")
    in_tail = select(tail.c.rowid).where(
        tail.c.rowid > _indexed_through(index), tail.c[index.key].in_(keys)
    )
    return select(union_all(in_runs, in_tail).subquery().c[0])


def _indexed_through(index: DeferredIndex) -> Any:
    """The last rowid the runs cover, as a scalar subquery."""
    return (
        select(func.coalesce(func.max(_RUNS.c.last_rowid), 0))
        .where(_RUNS.c.index_name == index.name)
        .scalar_subquery()
    )


def maintain(session: Session, index: DeferredIndex) -> bool:
    """Does the next step of ``index``'s upkeep, if there is one (never on
    PostgreSQL); answers whether there was."""
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return False
    target = _merging_into(connection, index)
    if target is None:
        if _build_level_zero(connection, index):
            return True
        target = _start_merge(connection, index)
        if target is None:
            return False
    _move_slice(connection, target)
    return True


def _scalar(connection: Connection, statement: str, parameters: Sequence[Any] = ()) -> Any:
    return connection.exec_driver_sql(statement, tuple(parameters)).scalar()


def _merging_into(connection: Connection, index: DeferredIndex) -> int | None:
    target = _scalar(
        connection,
        "SELECT max(merging_into) FROM index_runs WHERE index_name = ?",
        (index.name,),
    )
    return None if target is None else int(target)


def _next_run(connection: Connection) -> int:
    """A run id above every other: a new run's entries go at the end of
    ``index_run_entries``, where appending is cheapest."""
    return int(_scalar(connection, "SELECT coalesce(max(run), 0) + 1 FROM index_runs"))


def _build_level_zero(connection: Connection, index: DeferredIndex) -> bool:
    through = int(
        _scalar(
            connection,
            "SELECT coalesce(max(last_rowid), 0) FROM index_runs WHERE index_name = ?",
            (index.name,),
        )
    )
    newest = int(_scalar(connection, f"SELECT coalesce(max(rowid), 0) FROM {index.table}"))
    if newest - through < RUN_ROWS:
        return False
    last = through + RUN_ROWS
    run = _next_run(connection)
    connection.exec_driver_sql(
        f"INSERT INTO index_run_entries (run, key, source_rowid) "
        f"SELECT ?, {index.key}, rowid FROM {index.table} WHERE rowid > ? AND rowid <= ? "
        f"ORDER BY {index.key}, rowid",
        (run, through, last),
    )
    _register(connection, index, run, 0, (through + 1, last))
    return True


def _register(
    connection: Connection, index: DeferredIndex, run: int, level: int, rowids: tuple[int, int]
) -> None:
    """Names ``run`` as a run of ``index`` at ``level``, over the source rows
    ``rowids`` (first and last, both included)."""
    connection.exec_driver_sql(
        "INSERT INTO index_runs (run, index_name, level, first_rowid, last_rowid) "
        "VALUES (?, ?, ?, ?, ?)",
        (run, index.name, level, *rowids),
    )


def _start_merge(connection: Connection, index: DeferredIndex) -> int | None:
    """Marks the ``FANOUT`` oldest runs of the lowest full level as merging
    into a new run of the next level; answers the new run, or None."""
    level = _scalar(
        connection,
        "SELECT min(level) FROM (SELECT level FROM index_runs WHERE index_name = ? "
        "GROUP BY level HAVING count(*) >= ?)",
        (index.name, FANOUT),
    )
    if level is None:
        return None
    sources = [
        run
        for (run,) in connection.exec_driver_sql(
            "SELECT run FROM index_runs WHERE index_name = ? AND level = ? ORDER BY run LIMIT ?",
            (index.name, level, FANOUT),
        )
    ]
    marks = ", ".join("?" * len(sources))
    first, last = connection.exec_driver_sql(
        f"SELECT min(first_rowid), max(last_rowid) FROM index_runs WHERE run IN ({marks})",
        tuple(sources),
    ).one()
    target = _next_run(connection)
    _register(connection, index, target, int(level) + 1, (int(first), int(last)))
    connection.exec_driver_sql(
        f"UPDATE index_runs SET merging_into = ? WHERE run IN ({marks})", (target, *sources)
    )
    return target


def _move_slice(connection: Connection, target: int) -> None:
    """Moves the next keys of the runs merging into ``target``, in key order,
    and forgets the runs it emptied. Every key moves whole, in one
    transaction, so a lookup finds each entry in exactly one run."""
    sources = [
        run
        for (run,) in connection.exec_driver_sql(
            "SELECT run FROM index_runs WHERE merging_into = ? ORDER BY run", (target,)
        )
    ]
    marks = ", ".join("?" * len(sources))
    low = _scalar(
        connection, f"SELECT min(key) FROM index_run_entries WHERE run IN ({marks})", sources
    )
    if low is not None:
        bound, bounds = _slice(low, _slice_end(connection, sources, low))
        connection.exec_driver_sql(
            f"INSERT INTO index_run_entries (run, key, source_rowid) "
            f"SELECT ?, key, source_rowid FROM index_run_entries "
            f"WHERE run IN ({marks}) AND {bound} ORDER BY key, source_rowid",
            (target, *sources, *bounds),
        )
        connection.exec_driver_sql(
            f"DELETE FROM index_run_entries WHERE run IN ({marks}) AND {bound}",
            (*sources, *bounds),
        )
    connection.exec_driver_sql(
        "DELETE FROM index_runs WHERE merging_into = ? AND NOT EXISTS "
        "(SELECT 1 FROM index_run_entries WHERE index_run_entries.run = index_runs.run)",
        (target,),
    )


def _slice(low: Any, high: Any) -> tuple[str, tuple[Any, ...]]:
    """The condition on ``key`` for the slice [low, high), and its values;
    all keys from ``low`` on when ``high`` is None, and ``low`` alone when
    one key fills the slice."""
    if high is None:
        return "key >= ?", (low,)
    if high == low:
        return "key = ?", (low,)
    return "key >= ? AND key < ?", (low, high)


def _slice_end(connection: Connection, sources: Sequence[int], low: Any) -> Any:
    """The first key not to move in this slice (None: move the rest): the
    nearest key, over the source runs, that lies a share of
    ``SLICE_ENTRIES`` past ``low`` in its run."""
    share = max(1, SLICE_ENTRIES // len(sources))
    ends = [
        _scalar(
            connection,
            "SELECT key FROM index_run_entries WHERE run = ? AND key >= ? "
            "ORDER BY key LIMIT 1 OFFSET ?",
            (run, low, share),
        )
        for run in sources
    ]
    present = [end for end in ends if end is not None]
    return min(present) if present else None


UpkeepStep = Callable[[Session], bool]
"""One bounded step of deferred upkeep, in the caller's transaction;
answers whether there was one to do."""


def _runs_step(session: Session) -> bool:
    worked = False
    for index in DEFERRED_INDEXES:
        worked |= maintain(session, index)
    return worked


class Upkeep:
    """Keeps an SQLite database's deferred structures caught up, on a thread
    of its own, one short transaction per step.

    ``steps`` run in turn, each in its own transaction; the runs of the
    deferred indexes always come first. Between rounds that did work it
    pauses for ``pause`` seconds, so a writer queued for the database goes
    first; when nothing is left to do it sleeps for ``idle`` seconds. On
    PostgreSQL it does nothing.
    """

    def __init__(
        self,
        database: Any,
        steps: Sequence[UpkeepStep] = (),
        *,
        pause: float = 0.02,
        idle: float = 0.5,
    ) -> None:
        self._database = database
        self._steps = (_runs_step, *steps)
        self._pause = pause
        self._idle = idle
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="farebridge-upkeep", daemon=True)

    def start(self) -> None:
        if self._database.dialect == "sqlite":
            self._thread.start()

    def stop(self) -> None:
        """Stops after the step under way, if any."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                worked = self.step()
            except Exception:  # the next round tries again; the tails still answer
                _log.exception("deferred upkeep failed")
                worked = False
            self._stop.wait(self._pause if worked else self._idle)

    def step(self) -> bool:
        """One step of each kind; answers whether any had one to do."""
        worked = False
        for step in self._steps:
            with self._database.transaction() as session:
                worked |= step(session)
        return worked

    def catch_up(self) -> int:
        """Runs every step until none has one left, each in its own
        transaction; answers how many rounds that took."""
        rounds = 0
        while self.step():
            rounds += 1
        return rounds


def catch_up(session: Session) -> int:
    """Runs the upkeep of every deferred index until none has a step left,
    in the caller's transaction; answers how many steps that took."""
    steps = 0
    for index in DEFERRED_INDEXES:
        while maintain(session, index):
            steps += 1
    return steps
