"""The deferred structures of SQLite: a medium's taps found through sorted
runs and a scanned tail (clearing/storage/_runs.py), and accounts' posted
totals folded in off the tap path (clearing/ledger/_totals.py).

A lookup through the runs must find exactly what a scan of the whole
journal finds, and a balance must be what summing every transfer gives,
whatever mix of appends, upkeep steps, merges cut into slices, folds and
restarts came before. Upkeep must lose no row and count none twice;
neither kind of lookup may read its whole source table; the background
upkeep must keep the tails short and stop when asked; and the migration
that introduces all this must carry the rows already stored and be undone
cleanly.
"""

from __future__ import annotations

import re
import shutil
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import Select, event, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

import clearing.ledger._totals as totals
from clearing.ledger import (
    Account,
    AccountFlags,
    AccountResult,
    Balance,
    TransferFlags,
    TransferRequest,
    TransferResult,
    balances,
    create_accounts,
    create_transfers,
    fold_totals,
)
from clearing.registry import register_device, register_participant
from clearing.storage import Database
from clearing.storage import _runs as runs
from clearing.storage._runs import (
    DEFERRED_INDEXES,
    TAPS_BY_MEDIUM,
    DeferredIndex,
    Upkeep,
    catch_up,
    key_among,
    maintain,
)
from clearing.storage.models import IndexRunRow, TapRow
from clearing.values import Device, Mode, Participant, Role

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
OPERATOR = Participant("op-metro", "Metro", Role.OPERATOR, "SGD")
HOUSE = Participant("clearing-house", "Clearing house", Role.CLEARING_HOUSE, "SGD")
GATE = Device("gate-1", OPERATOR.participant_id, bytes(32), "stop-1", Mode.METRO)
_NAMES = uuid.UUID("0b6f3c52-6f41-4d0e-8a43-5d1c2e7f9a20")
ACCOUNTS = tuple(uuid.uuid5(_NAMES, f"account-{n}") for n in range(5))
# Media that share prefixes, differ only in case, a trailing space or an
# accent, hold LIKE's wildcards, sort otherwise than as numbers, or are as
# long as a token may be: merge slices are cut by key ranges, so the order
# of neighbouring keys is what could go wrong.
TOKENS = (
    "m",
    "m1",
    "m10",
    "m100",
    "m1 ",
    "M1",
    "m2",
    "m%",
    "m_",
    "mé",
    "9",
    "10",
    "x" * 127,
    "x" * 128,
)
SMALL_RUNS = {"RUN_ROWS": 5, "FANOUT": 3, "SLICE_ENTRIES": 4}
SMALL_FOLDS = {"FOLD_AFTER": 4, "FOLD_ROWS": 6}
NOT_POSTED = TransferFlags.PENDING | TransferFlags.VOID_PENDING
_SCAN = re.compile(r"\bSCAN (TABLE )?(taps|tail|ledger_transfers)\b")
UPKEEP_THREAD = "farebridge-upkeep"


# ------------------------------------------------------------------ helpers


def prepare(database: Database) -> None:
    """An operator with one gate, and ledger accounts to move money between."""
    with database.transaction() as session:
        register_participant(session, OPERATOR, NOW)
        register_participant(session, HOUSE, NOW)
        register_device(session, GATE, NOW)
        opened = [
            Account(account, HOUSE.participant_id, "SGD", "funds", AccountFlags.NONE)
            for account in ACCOUNTS
        ]
        assert create_accounts(session, opened, NOW) == [AccountResult.OK] * len(ACCOUNTS)


def prepared_database(url: str, revision: str = "head") -> Database:
    database = Database(url)
    database.migrate(revision)
    prepare(database)
    return database


def small_constants(monkeypatch: pytest.MonkeyPatch, **values: int) -> None:
    """Upkeep constants small enough that a few dozen rows make runs, merges
    and folds (monkeypatch puts the real ones back after the test)."""
    for module, defaults in ((runs, SMALL_RUNS), (totals, SMALL_FOLDS)):
        for name, value in defaults.items():
            monkeypatch.setattr(module, name, values.get(name, value))


def tap_id(serial: int) -> str:
    return f"tap-{serial}"


def append_taps(database: Database, first_serial: int, tokens: Sequence[str]) -> None:
    """Stores one tap per token, numbered from ``first_serial``, in one
    transaction (as one ingested batch would)."""
    rows = [
        {
            "tap_id": tap_id(serial),
            "device_id": GATE.device_id,
            "operator_id": OPERATOR.participant_id,
            "device_sequence": serial,
            "tapped_at": NOW + timedelta(seconds=serial),
            "medium_token": token,
            "direction": "on",
            "batch_id": f"batch-{first_serial}",
            "received_at": NOW,
            "content_digest": bytes(32),
        }
        for serial, token in enumerate(tokens, start=first_serial)
    ]
    with database.transaction() as session:
        session.execute(insert(TapRow), rows)


def expected_taps(tokens: Sequence[str], keys: Sequence[str]) -> set[tuple[str, str]]:
    """(tap id, medium) of the taps of ``keys``, the taps being ``tokens``
    numbered from 1."""
    return {(tap_id(n), t) for n, t in enumerate(tokens, start=1) if t in keys}


@dataclass
class Books:
    """What the ledger was asked to do, told plainly: every transfer
    accepted, the pending ones not yet resolved, balances summed from
    scratch."""

    serial: int = 0
    posted: list[tuple[uuid.UUID, uuid.UUID, int]] = field(default_factory=list)
    open_holds: dict[uuid.UUID, tuple[uuid.UUID, uuid.UUID, int]] = field(default_factory=dict)

    def fresh_id(self) -> uuid.UUID:
        self.serial += 1
        return uuid.uuid5(_NAMES, f"transfer-{self.serial}")

    def moves(
        self, moves: Sequence[tuple[uuid.UUID, uuid.UUID, int, bool]]
    ) -> list[TransferRequest]:
        """Requests for (debit, credit, amount, pending) moves, recorded as
        accepted."""
        requests = []
        for debit, credit, amount, pending in moves:
            request = TransferRequest(
                self.fresh_id(),
                debit,
                credit,
                amount,
                "SGD",
                "fare",
                "",
                TransferFlags.PENDING if pending else TransferFlags.NONE,
            )
            if pending:
                self.open_holds[request.transfer_id] = (debit, credit, amount)
            else:
                self.posted.append((debit, credit, amount))
            requests.append(request)
        return requests

    def resolve(self, hold: uuid.UUID, *, post: bool, share: int = 0) -> TransferRequest:
        """Posts ``share`` of the pending transfer ``hold`` (0: all of it),
        or voids it."""
        debit, credit, amount = self.open_holds.pop(hold)
        if post:
            self.posted.append((debit, credit, min(share, amount) or amount))
        flag = TransferFlags.POST_PENDING if post else TransferFlags.VOID_PENDING
        posting = min(share, amount) if post else 0
        return TransferRequest(self.fresh_id(), None, None, posting, None, "", "", flag, hold)

    def balances(self) -> dict[uuid.UUID, Balance]:
        found = {account: Balance() for account in ACCOUNTS}
        for debit, credit, amount in self.posted:
            found[debit] = found[debit].add(debits_posted=amount)
            found[credit] = found[credit].add(credits_posted=amount)
        for debit, credit, amount in self.open_holds.values():
            found[debit] = found[debit].add(debits_pending=amount)
            found[credit] = found[credit].add(credits_pending=amount)
        return found


def submit(database: Database, requests: Sequence[TransferRequest]) -> None:
    with database.transaction() as session:
        assert create_transfers(session, requests, NOW) == [TransferResult.OK] * len(requests)


def through_index(session: Session, keys: Sequence[str]) -> set[tuple[str, str]]:
    """(tap id, medium) of the taps ``key_among`` finds."""
    query = select(TapRow.tap_id, TapRow.medium_token).where(
        key_among(session, TAPS_BY_MEDIUM, keys)
    )
    return {(tap, medium) for tap, medium in session.execute(query)}


def through_scan(session: Session, keys: Sequence[str]) -> set[tuple[str, str]]:
    """The same by the plain condition: on SQLite, a scan of the journal."""
    query = select(TapRow.tap_id, TapRow.medium_token).where(TapRow.medium_token.in_(keys))
    return {(tap, medium) for tap, medium in session.execute(query)}


def _scalar(connection: Connection, statement: str, *parameters: Any) -> int:
    return int(connection.exec_driver_sql(statement, parameters).scalar_one())


def newest_rowid(connection: Connection, table: str) -> int:
    return _scalar(connection, f"SELECT coalesce(max(rowid), 0) FROM {table}")


def indexed_through(connection: Connection, index: DeferredIndex) -> int:
    query = "SELECT coalesce(max(last_rowid), 0) FROM index_runs WHERE index_name = ?"
    return _scalar(connection, query, index.name)


def tail_length(connection: Connection, index: DeferredIndex) -> int:
    return newest_rowid(connection, index.table) - indexed_through(connection, index)


def fold_tail(connection: Connection) -> int:
    return newest_rowid(connection, "ledger_transfers") - totals.folded_through(connection)


def check_runs(connection: Connection, index: DeferredIndex) -> None:
    """Every rowid the runs claim to cover is in exactly one registered run
    of the index, under the key its source row holds, inside its run's
    range; and no entry is left in a run nobody registered."""
    registered = connection.exec_driver_sql(
        "SELECT run, first_rowid, last_rowid FROM index_runs WHERE index_name = ?",
        (index.name,),
    ).all()
    ranges = {run: (first, last) for run, first, last in registered}
    entries = connection.exec_driver_sql(
        f'SELECT e.run, e.source_rowid, e."key" IS s.{index.key} '
        f"FROM index_run_entries AS e LEFT JOIN {index.table} AS s ON s.rowid = e.source_rowid "
        "WHERE e.run IN (SELECT run FROM index_runs WHERE index_name = ?)",
        (index.name,),
    ).all()
    through = max((last for _, last in ranges.values()), default=0)
    covered = Counter(rowid for _, rowid, _ in entries)
    assert sorted(covered.elements()) == list(range(1, through + 1)), (
        f"{index.name}: rowids 1..{through} should each be indexed once; "
        f"missing {sorted(set(range(1, through + 1)) - set(covered))[:10]}, "
        f"twice {[r for r, n in covered.items() if n > 1][:10]}, "
        f"beyond {[r for r in covered if r > through][:10]}"
    )
    wrong_key = [(run, rowid) for run, rowid, same in entries if not same]
    assert not wrong_key, f"{index.name}: entries whose key is not their row's: {wrong_key[:10]}"
    outside = [(r, rowid) for r, rowid, _ in entries if not ranges[r][0] <= rowid <= ranges[r][1]]
    assert not outside, f"{index.name}: entries outside their run's rowids: {outside[:10]}"
    orphans = _scalar(
        connection,
        "SELECT count(*) FROM index_run_entries WHERE run NOT IN (SELECT run FROM index_runs)",
    )
    assert orphans == 0


def check_totals(connection: Connection) -> None:
    """The folded totals are the posted transfers up to the mark, summed
    by brute force over the rows themselves, and the mark is a real rowid."""
    through = totals.folded_through(connection)
    assert 0 <= through <= newest_rowid(connection, "ledger_transfers")
    summed: dict[str, list[int]] = {}
    for debit, credit, amount, flags in connection.exec_driver_sql(
        "SELECT debit_account_id, credit_account_id, amount, flags FROM ledger_transfers "
        "WHERE rowid <= ?",
        (through,),
    ):
        if not flags & NOT_POSTED:
            summed.setdefault(debit, [0, 0])[0] += amount
            summed.setdefault(credit, [0, 0])[1] += amount
    stored = {
        account: [debits, credits]
        for account, debits, credits in connection.exec_driver_sql(
            "SELECT account_id, debits_posted, credits_posted FROM ledger_account_totals"
        )
    }
    assert stored == summed


def has_work(connection: Connection, index: DeferredIndex) -> bool:
    """Whether ``maintain`` has a step to take, as its contract says: a
    merge under way, a level of ``FANOUT`` runs, or ``RUN_ROWS`` of tail."""
    merging = _scalar(
        connection,
        "SELECT count(*) FROM index_runs WHERE index_name = ? AND merging_into IS NOT NULL",
        index.name,
    )
    fullest = _scalar(
        connection,
        "SELECT coalesce(max(n), 0) FROM "
        "(SELECT count(*) AS n FROM index_runs WHERE index_name = ? GROUP BY level)",
        index.name,
    )
    return (
        bool(merging) or fullest >= runs.FANOUT or tail_length(connection, index) >= runs.RUN_ROWS
    )


def upkeep_has_work(connection: Connection) -> bool:
    return any(has_work(connection, i) for i in DEFERRED_INDEXES) or (
        fold_tail(connection) >= totals.FOLD_AFTER
    )


def snapshot(connection: Connection) -> tuple[Any, ...]:
    registered = connection.exec_driver_sql("SELECT * FROM index_runs ORDER BY run").all()
    entries = connection.exec_driver_sql(
        "SELECT run, count(*) FROM index_run_entries GROUP BY run ORDER BY run"
    ).all()
    return tuple(registered), tuple(entries)


def settled(database: Database) -> bool:
    with database.transaction() as session:
        return not upkeep_has_work(session.connection())


# ------------------------------------------------------------ the machine


class DeferredMachine(RuleBasedStateMachine):
    """One history on a database file of its own, copied from a migrated
    template. ``taps`` are the media of the stored taps, in order; ``books``
    what the ledger accepted."""

    TEMPLATE: ClassVar[Path]
    WORKDIR: ClassVar[Path]

    def __init__(self) -> None:
        super().__init__()
        self.path = self.WORKDIR / f"{uuid.uuid4().hex}.db"
        shutil.copyfile(self.TEMPLATE, self.path)
        self.database = Database(f"sqlite:///{self.path}")
        self.taps: list[str] = []
        self.books = Books()
        self.fold_mark = 0

    def teardown(self) -> None:
        self.database.dispose()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)

    @initialize(
        run_rows=st.integers(1, 4),
        fanout=st.integers(2, 3),
        slice_entries=st.integers(1, 5),
        fold_after=st.integers(1, 6),
        fold_rows=st.integers(1, 8),
    )
    def choose_constants(
        self, run_rows: int, fanout: int, slice_entries: int, fold_after: int, fold_rows: int
    ) -> None:
        """Each history runs under constants of its own (the test puts the
        modules' own back afterwards)."""
        runs.RUN_ROWS, runs.FANOUT, runs.SLICE_ENTRIES = run_rows, fanout, slice_entries
        totals.FOLD_AFTER, totals.FOLD_ROWS = fold_after, fold_rows

    # -- rules

    @rule(tokens=st.lists(st.sampled_from(TOKENS), min_size=1, max_size=30))
    def append_taps(self, tokens: list[str]) -> None:
        append_taps(self.database, len(self.taps) + 1, tokens)
        self.taps += tokens

    @rule(
        moves=st.lists(
            st.tuples(
                st.integers(0, len(ACCOUNTS) - 1),
                st.integers(1, len(ACCOUNTS) - 1),
                st.integers(1, 400),
                st.booleans(),
            ),
            min_size=1,
            max_size=8,
        )
    )
    def append_transfers(self, moves: list[tuple[int, int, int, bool]]) -> None:
        named = [
            (ACCOUNTS[d], ACCOUNTS[(d + offset) % len(ACCOUNTS)], amount, pending)
            for d, offset, amount, pending in moves
        ]
        submit(self.database, self.books.moves(named))

    @precondition(lambda self: self.books.open_holds)
    @rule(data=st.data(), post=st.booleans(), share=st.sampled_from([0, 1, 50, 400]))
    def resolve_hold(self, data: st.DataObject, post: bool, share: int) -> None:
        """Posts all of a hold, or part of it, or voids it: only what was
        posted counts as posted, and the hold stops counting as pending."""
        hold = data.draw(st.sampled_from(sorted(self.books.open_holds)))
        submit(self.database, [self.books.resolve(hold, post=post, share=share)])

    @rule(index=st.sampled_from(DEFERRED_INDEXES), steps=st.integers(1, 6))
    def maintain_steps(self, index: DeferredIndex, steps: int) -> None:
        """A step is taken exactly when there is work, and changes something."""
        for _ in range(steps):
            with self.database.transaction() as session:
                connection = session.connection()
                expected, before = has_work(connection, index), snapshot(connection)
                assert maintain(session, index) is expected
                assert (snapshot(connection) != before) is expected

    @rule()
    def fold_step(self) -> None:
        """A fold happens exactly when the tail is long enough, and moves the
        mark forward by at most ``FOLD_ROWS``."""
        with self.database.transaction() as session:
            connection = session.connection()
            expected = fold_tail(connection) >= totals.FOLD_AFTER
            before = totals.folded_through(connection)
            assert fold_totals(session) is expected
            moved = totals.folded_through(connection) - before
        assert (0 < moved <= totals.FOLD_ROWS) if expected else moved == 0

    @rule()
    def upkeep_step(self) -> None:
        """The serving process's upkeep round, without its thread."""
        with self.database.transaction() as session:
            expected = upkeep_has_work(session.connection())
        assert Upkeep(self.database, [fold_totals]).step() is expected

    @rule(whole_upkeep=st.booleans())
    def catch_up(self, whole_upkeep: bool) -> None:
        """Afterwards no upkeep is left, and each tail is shorter than the
        stretch that would be worth a step."""
        if whole_upkeep:
            Upkeep(self.database, [fold_totals]).catch_up()
        else:
            with self.database.transaction() as session:
                catch_up(session)
                while fold_totals(session):
                    pass
        with self.database.transaction() as session:
            connection = session.connection()
            for index in DEFERRED_INDEXES:
                assert tail_length(connection, index) < runs.RUN_ROWS
            assert fold_tail(connection) < totals.FOLD_AFTER
            assert not upkeep_has_work(connection)

    @rule()
    def restart(self) -> None:
        """A new process on the same file (migrations run at every start)."""
        self.database.dispose()
        self.database = Database(f"sqlite:///{self.path}")
        self.database.migrate()

    @rule(
        keys=st.sets(st.sampled_from((*TOKENS, "absent")), min_size=1),
        chosen=st.sets(st.sampled_from(range(len(ACCOUNTS))), min_size=1),
    )
    def look_up(self, keys: set[str], chosen: set[int]) -> None:
        """Some media's taps, by the runs and by a scan; some accounts' balances."""
        media = sorted(keys)
        accounts = [ACCOUNTS[n] for n in sorted(chosen)]
        expected = self.books.balances()
        with self.database.transaction() as session:
            assert through_scan(session, media) == expected_taps(self.taps, media)
            assert through_index(session, media) == expected_taps(self.taps, media)
            assert balances(session, accounts, NOW) == {a: expected[a] for a in accounts}

    # -- invariants

    @invariant()
    def every_medium_finds_its_taps(self) -> None:
        with self.database.transaction() as session:
            found, scanned = through_index(session, TOKENS), through_scan(session, TOKENS)
        assert found == scanned == expected_taps(self.taps, TOKENS)

    @invariant()
    def balances_sum_every_transfer(self) -> None:
        with self.database.transaction() as session:
            assert balances(session, ACCOUNTS, NOW) == self.books.balances()

    @invariant()
    def upkeep_loses_nothing_and_counts_nothing_twice(self) -> None:
        with self.database.transaction() as session:
            connection = session.connection()
            for index in DEFERRED_INDEXES:
                check_runs(connection, index)
            check_totals(connection)
            mark = totals.folded_through(connection)
        assert mark >= self.fold_mark  # the mark never goes back
        self.fold_mark = mark


def test_lookups_and_balances_agree_with_brute_force_through_any_history(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    template = tmp_path / "template.db"
    prepared_database(f"sqlite:///{template}").dispose()
    assert not Path(f"{template}-wal").exists()  # one file holds it all
    small_constants(monkeypatch)  # restored after the test, whatever histories chose
    machine = type("Deferred", (DeferredMachine,), {"TEMPLATE": template, "WORKDIR": tmp_path})
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=settings().max_examples,
            stateful_step_count=35,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )


# ------------------------------------------------------- the query plans


@pytest.fixture
def filled(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    """A database whose taps are partly in runs (after merges) and partly
    in the tail, and whose transfers are partly folded: a few hundred rows,
    so that SQLite's statistics describe tables where reading every row
    costs more than finding a few (with a few dozen rows a scan is the
    better plan, and SQLite rightly takes it)."""
    small_constants(monkeypatch, RUN_ROWS=50, SLICE_ENTRIES=40, FOLD_AFTER=50, FOLD_ROWS=100)
    database = prepared_database(sqlite_url)
    tokens = [TOKENS[n % len(TOKENS)] if n % 2 else f"rider-{n % 97}" for n in range(630)]
    append_taps(database, 1, tokens)
    books = Books()
    moves = [(ACCOUNTS[n % 5], ACCOUNTS[(n + 1) % 5], 10, n % 7 == 0) for n in range(330)]
    submit(database, books.moves(moves))
    Upkeep(database, [fold_totals]).catch_up()
    append_taps(database, 631, tokens[:4])
    submit(database, books.moves(moves[:3]))
    with database.transaction() as session:
        connection = session.connection()
        assert (
            0
            < tail_length(connection, TAPS_BY_MEDIUM)
            < indexed_through(connection, TAPS_BY_MEDIUM)
        )
        assert 0 < fold_tail(connection) < totals.folded_through(connection)
        assert _scalar(connection, "SELECT max(level) FROM index_runs") >= 1
    try:
        yield database
    finally:
        database.dispose()


def query_plans(session: Session, run: Callable[[], object]) -> list[list[str]]:
    """SQLite's plan of each statement ``run`` sends, exactly as sent."""
    sent: list[tuple[str, Any]] = []

    def capture(*args: Any) -> None:
        sent.append((args[2], args[3]))  # statement, parameters

    connection = session.connection()
    event.listen(connection, "before_cursor_execute", capture)
    try:
        run()
    finally:
        event.remove(connection, "before_cursor_execute", capture)
    return [
        [str(row[3]) for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", values)]
        for sql, values in sent
    ]


def query_plan(session: Session, query: Select[Any]) -> list[str]:
    [plan] = query_plans(session, lambda: session.execute(query).all())
    return plan


def _scans(plan: list[str]) -> list[str]:
    return [line for line in plan if _SCAN.search(line)]


@pytest.mark.parametrize("analyzed", [False, True], ids=["plain", "analyzed"])
def test_lookups_read_their_source_table_by_rowid_only(filled: Database, analyzed: bool) -> None:
    """Neither the journal nor the ledger is scanned: the runs are searched
    by (run, key), the tails by a rowid range, the taps by rowid, the
    pending debits by their partial index. With and without the statistics
    ANALYZE gathers."""
    with filled.transaction() as session:
        if analyzed:
            session.connection().exec_driver_sql("ANALYZE")
        keys = ["m1", "m10"]
        condition = key_among(session, TAPS_BY_MEDIUM, keys)
        plain = query_plan(session, select(TapRow).where(condition))
        journeys = query_plan(
            session,
            select(TapRow)
            .where(condition, TapRow.tapped_at >= NOW)
            .order_by(TapRow.tapped_at, TapRow.tap_id)
            .limit(1000),
        )
        ledger = query_plans(session, lambda: balances(session, ACCOUNTS[:2], NOW))
        # The check can fail: the plain condition on the medium scans the journal.
        unindexed = query_plan(session, select(TapRow).where(TapRow.medium_token.in_(keys)))
    assert _scans(unindexed), unindexed
    for plan in (plain, journeys):
        assert not _scans(plan), plan
        assert "SEARCH taps USING INTEGER PRIMARY KEY (rowid=?)" in plan, plan
        assert "SEARCH tail USING INTEGER PRIMARY KEY (rowid>?)" in plan, plan
        assert "SEARCH index_run_entries USING PRIMARY KEY (run=? AND key=?)" in plan, plan
    lines = [line for plan in ledger for line in plan]
    assert not _scans(lines), ledger
    assert lines.count("SEARCH ledger_transfers USING INTEGER PRIMARY KEY (rowid>?)") == 2, ledger
    assert any("USING INDEX ix_ledger_transfers_pending_debit" in line for line in lines), ledger


# ------------------------------------------------------- the upkeep thread


def _upkeep_threads() -> int:
    return sum(1 for thread in threading.enumerate() if thread.name == UPKEEP_THREAD)


def _stop_timed(upkeep: Upkeep) -> float:
    started = time.monotonic()
    upkeep.stop()
    return time.monotonic() - started


def test_the_upkeep_keeps_the_tails_short_while_rows_arrive(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    small_constants(monkeypatch)
    database = prepared_database(sqlite_url)
    books = Books()
    upkeep = Upkeep(database, [fold_totals], pause=0.001, idle=0.005)
    threads = _upkeep_threads()
    upkeep.start()
    try:
        assert _upkeep_threads() == threads + 1
        stored: list[str] = []
        for batch in range(12):
            tokens = [TOKENS[(batch * 7 + n) % len(TOKENS)] for n in range(3 + batch % 5)]
            append_taps(database, len(stored) + 1, tokens)
            stored += tokens
            debit, credit = ACCOUNTS[batch % 5], ACCOUNTS[(batch + 1) % 5]
            submit(database, books.moves([(debit, credit, 7, batch % 4 == 0)] * (1 + batch % 3)))
            # Between the upkeep's steps, lookups see every row.
            with database.transaction() as session:
                assert through_index(session, TOKENS) == expected_taps(stored, TOKENS)
                assert balances(session, ACCOUNTS, NOW) == books.balances()
        deadline = time.monotonic() + 20
        while not settled(database):
            assert time.monotonic() < deadline, "the upkeep did not catch up in time"
            time.sleep(0.01)
    finally:
        stopped_in = _stop_timed(upkeep)
    assert stopped_in < 2
    assert _upkeep_threads() == threads
    with database.transaction() as session:
        connection = session.connection()
        assert indexed_through(connection, TAPS_BY_MEDIUM) > 0  # it built runs
        assert tail_length(connection, TAPS_BY_MEDIUM) < runs.RUN_ROWS
        assert totals.folded_through(connection) > 0  # and folded
        assert fold_tail(connection) < totals.FOLD_AFTER
        check_runs(connection, TAPS_BY_MEDIUM)
        check_totals(connection)
        assert through_index(session, TOKENS) == expected_taps(stored, TOKENS)
        assert balances(session, ACCOUNTS, NOW) == books.balances()
    database.dispose()


def test_stopping_an_idle_upkeep_does_not_wait_out_its_sleep(sqlite_url: str) -> None:
    database = prepared_database(sqlite_url)
    upkeep = Upkeep(database, [fold_totals], pause=60, idle=60)
    upkeep.start()
    try:
        time.sleep(0.05)  # by now it has found nothing to do, and sleeps
    finally:
        stopped_in = _stop_timed(upkeep)
        database.dispose()
    assert stopped_in < 2


def test_upkeep_is_sqlites_alone(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """On PostgreSQL the B-tree indexes stay: ``key_among`` is the plain
    ``IN``, there is never a step or a fold, and the upkeep starts no
    thread. On SQLite a full tail is a step, and the condition goes through
    the runs. Lookups and balances are right on both."""
    small_constants(monkeypatch)
    database = prepared_database(database_url)
    sqlite = database.dialect == "sqlite"
    try:
        tokens = [TOKENS[n % 3] for n in range(runs.RUN_ROWS)]
        append_taps(database, 1, tokens)
        books = Books()
        submit(database, books.moves([(ACCOUNTS[0], ACCOUNTS[1], 5, False)] * totals.FOLD_AFTER))
        with database.transaction() as session:
            keys = ["m", "m1"]
            plain = TapRow.medium_token.in_(keys)
            assert key_among(session, TAPS_BY_MEDIUM, keys).compare(plain) is not sqlite
            assert maintain(session, TAPS_BY_MEDIUM) is sqlite
            assert fold_totals(session) is sqlite
            assert catch_up(session) == 0
            assert fold_totals(session) is False
            registered = session.scalars(select(IndexRunRow.index_name)).all()
            assert registered == ([TAPS_BY_MEDIUM.name] if sqlite else [])
            assert through_index(session, keys) == expected_taps(tokens, keys)
            assert balances(session, ACCOUNTS, NOW) == books.balances()
        threads = _upkeep_threads()
        upkeep = Upkeep(database, [fold_totals], pause=0.001, idle=0.005)
        upkeep.start()
        assert _upkeep_threads() == threads + (1 if sqlite else 0)
        assert _stop_timed(upkeep) < 2
        assert _upkeep_threads() == threads
    finally:
        database.dispose()


# ------------------------------------------------------- the migration


OLD_INDEXES = {"ix_taps_medium_token", "ix_ledger_transfers_debit_account_id"}
NEW_INDEXES = {"ix_ledger_transfers_pending_debit"}
NEW_TABLES = {"index_runs", "index_run_entries", "ledger_account_totals", "ledger_totals_through"}


def _schema(database: Database) -> set[tuple[str, str, str, str | None]]:
    """Every table, index and trigger, with the SQL that made it."""
    with database.engine.connect() as connection:
        query = "SELECT type, name, tbl_name, sql FROM sqlite_master"
        return {
            (kind, name, table, sql) for kind, name, table, sql in connection.exec_driver_sql(query)
        }


def _schema_objects(database: Database) -> set[str]:
    return {name for _, name, _, _ in _schema(database)}


def _ledger_history(books: Books, count: int) -> list[list[TransferRequest]]:
    """``count`` transfers in batches: posted ones, holds, and holds later
    posted or voided (which only the posted ones may count)."""
    if not count:
        return []
    moves = [(ACCOUNTS[n % 5], ACCOUNTS[(n + 2) % 5], n + 1, n % 3 == 0) for n in range(count - 2)]
    first = books.moves(moves)
    holds = sorted(books.open_holds)
    return [first, [books.resolve(holds[0], post=True), books.resolve(holds[1], post=False)]]


@pytest.mark.parametrize(
    ("tap_count", "transfer_count"),
    [(40, 25), (40, 0), (0, 25), (0, 0)],
    ids=["both", "taps", "transfers", "empty"],
)
def test_the_upgrade_carries_stored_rows_and_the_downgrade_restores_the_indexes(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, tap_count: int, transfer_count: int
) -> None:
    database = prepared_database(sqlite_url, "0012")
    try:
        before = _schema(database)
        assert _schema_objects(database) >= OLD_INDEXES
        assert not (NEW_TABLES | NEW_INDEXES) & _schema_objects(database)
        tokens = [TOKENS[n % len(TOKENS)] for n in range(tap_count)]
        if tokens:
            append_taps(database, 1, tokens)
        books = Books()
        for batch in _ledger_history(books, transfer_count):
            submit(database, batch)

        database.migrate()
        upgraded = _schema(database)
        objects = _schema_objects(database)
        assert not OLD_INDEXES & objects
        assert objects >= (NEW_TABLES | NEW_INDEXES)
        with database.transaction() as session:
            connection = session.connection()
            registered = connection.exec_driver_sql(
                "SELECT index_name, level, first_rowid, last_rowid, merging_into FROM index_runs"
            ).all()
            assert registered == ([(TAPS_BY_MEDIUM.name, 0, 1, tap_count, None)] if tokens else [])
            check_runs(connection, TAPS_BY_MEDIUM)
            assert tail_length(connection, TAPS_BY_MEDIUM) == 0
            # Every transfer stored is folded, the holds not counted as posted.
            assert totals.folded_through(connection) == transfer_count
            check_totals(connection)
            assert through_index(session, TOKENS) == expected_taps(tokens, TOKENS)
            assert balances(session, ACCOUNTS, NOW) == books.balances()

        # The upgraded database goes on like any other: new rows, upkeep
        # (the migrated run takes part in merges), lookups.
        small_constants(monkeypatch)
        more = [TOKENS[n % 4] for n in range(23)]
        append_taps(database, tap_count + 1, more)
        submit(database, books.moves([(ACCOUNTS[0], ACCOUNTS[1], 3, False)] * 17))
        assert Upkeep(database, [fold_totals]).catch_up() > 0
        with database.transaction() as session:
            connection = session.connection()
            check_runs(connection, TAPS_BY_MEDIUM)
            check_totals(connection)
            assert through_index(session, TOKENS) == expected_taps(tokens + more, TOKENS)
            assert balances(session, ACCOUNTS, NOW) == books.balances()

        database.downgrade("0012")
        assert _schema(database) == before  # the indexes as they were, nothing left over
        with database.transaction() as session:
            plan = query_plan(session, select(TapRow).where(TapRow.medium_token.in_(["m1"])))
            assert "SEARCH taps USING INDEX ix_taps_medium_token (medium_token=?)" in plan

        database.migrate()  # and up again: the run and the totals are built afresh
        assert _schema(database) == upgraded
        with database.transaction() as session:
            connection = session.connection()
            check_runs(connection, TAPS_BY_MEDIUM)
            assert tail_length(connection, TAPS_BY_MEDIUM) == 0
            assert fold_tail(connection) == 0
            check_totals(connection)
            assert balances(session, ACCOUNTS, NOW) == books.balances()
    finally:
        database.dispose()
