"""What a close claims: exactly the transfers created by its cut-off that no
earlier cycle cleared, even when a transaction commits late with an early
timestamp, and never a close's own postings twice."""

from __future__ import annotations

import threading
import uuid
from datetime import datetime
from pathlib import Path

from sqlalchemy import delete, select, update

from clearing.ledger import HORIZON_STEP, AccountCode, AccountRef, Posting, transfer_id_for
from clearing.settlement import (
    FeeSchedule,
    close_cycle,
    cycle_summary,
    post_chains,
    set_fee_schedule,
)
from clearing.storage import Database
from clearing.storage.models import (
    CycleCutOffRow,
    CycleTransferRow,
    LedgerHorizonRow,
    LedgerTransferRow,
)
from clearing.values import Money
from tests.settlement.conftest import HOUR, START, populate


def _fare(database: Database, charge: str, amount: int, at: datetime) -> uuid.UUID:
    posting = Posting(
        transfer_id_for("fare", charge),
        AccountRef("ezlink", AccountCode.RIDER_FUNDS, "SGD", "ezlink-0"),
        AccountRef("smrt", AccountCode.FARE_REVENUE, "SGD"),
        Money(amount, "SGD"), "fare", charge,
    )  # fmt: skip
    with database.transaction() as session:
        post_chains(session, [[posting]], at)
    return posting.transfer_id


def _close(database: Database, close_id: str, cut_off: datetime, now: datetime) -> int:
    with database.transaction() as session:
        return close_cycle(session, close_id, now, cut_off=cut_off).cycle_number


def _cycles(database: Database) -> dict[uuid.UUID, int]:
    with database.transaction() as session:
        rows = session.execute(select(CycleTransferRow.transfer_id, CycleTransferRow.cycle_number))
        return {row[0]: row[1] for row in rows}


def _earned(database: Database, cycle: int) -> int:
    with database.transaction() as session:
        summary = cycle_summary(session, cycle)
    return next(p.net for p in summary.positions if p.participant_id == "smrt")


def test_a_late_commit_with_an_early_timestamp_clears_in_the_next_cycle(
    database: Database,
) -> None:
    on_time = _fare(database, "c1", 300, START + HOUR)
    after_cut = _fare(database, "c2", 200, START + 4 * HOUR)
    assert _close(database, "one", START + 3 * HOUR, START + 5 * HOUR) == 1
    # Its clock says before cycle 1's cut-off, but it commits after the close:
    # the ledger stamps it just after the horizon the close left.
    late = _fare(database, "c3", 50, START + 2 * HOUR)
    with database.transaction() as session:
        created = session.scalar(
            select(LedgerTransferRow.created_at).where(LedgerTransferRow.transfer_id == late)
        )
    assert created == START + 3 * HOUR + HORIZON_STEP
    assert _close(database, "two", START + 6 * HOUR, START + 6 * HOUR) == 2
    cycles = _cycles(database)
    assert (cycles[on_time], cycles[after_cut], cycles[late]) == (1, 2, 2)
    assert (_earned(database, 1), _earned(database, 2)) == (300, 250)


def test_a_close_never_claims_its_own_postings_again(database: Database) -> None:
    """Cycle 1's fee is posted at its close, after its cut-off and before
    cycle 2's: the next close must not claim it a second time."""
    with database.transaction() as session:
        set_fee_schedule(session, FeeSchedule("smrt", "SGD", 100, 1), START)
    _fare(database, "c1", 1000, START + HOUR)
    assert _close(database, "one", START + 2 * HOUR, START + 3 * HOUR) == 1
    _fare(database, "c2", 1000, START + 4 * HOUR)
    assert _close(database, "two", START + 5 * HOUR, START + 5 * HOUR) == 2
    with database.transaction() as session:
        first, second = cycle_summary(session, 1), cycle_summary(session, 2)
    assert first.transfer_count == second.transfer_count == 2  # the fare and the fee
    assert [f.amount for f in first.fees] == [f.amount for f in second.fees] == [11]


def test_without_a_recorded_bound_the_close_checks_every_earlier_claim(
    database: Database,
) -> None:
    """Cycles closed before ``cleared_through`` and the ledger's horizon
    were recorded leave both empty, and a transfer could then commit late
    with an early timestamp."""
    first = _fare(database, "c1", 300, START + HOUR)
    assert _close(database, "one", START + 3 * HOUR, START + 3 * HOUR) == 1
    with database.transaction() as session:
        session.execute(update(CycleCutOffRow).values(cleared_through=None))
        session.execute(delete(LedgerHorizonRow))
    late = _fare(database, "c2", 70, START + 2 * HOUR)
    assert _close(database, "two", START + 4 * HOUR, START + 4 * HOUR) == 2
    cycles = _cycles(database)
    assert (cycles[first], cycles[late]) == (1, 2)
    assert _earned(database, 2) == 70
    with database.transaction() as session:
        bounds = session.scalars(select(CycleCutOffRow.cleared_through)).all()
    assert bounds[-1] == START + 4 * HOUR


def test_a_close_dates_its_own_postings_at_its_cut_off_and_sets_the_horizon_there(
    database: Database,
) -> None:
    with database.transaction() as session:
        set_fee_schedule(session, FeeSchedule("smrt", "SGD", 100, 1), START)
    _fare(database, "c1", 300, START + HOUR)
    assert _close(database, "one", START + 2 * HOUR, START + 3 * HOUR) == 1
    with database.transaction() as session:
        row = session.get(CycleCutOffRow, 1)
        assert row is not None
        assert row.cleared_through == START + 2 * HOUR
        assert session.scalar(select(LedgerHorizonRow.horizon)) == START + 2 * HOUR
        own = session.scalars(
            select(LedgerTransferRow.created_at).where(
                LedgerTransferRow.code.in_(["fee", "settlement"])
            )
        ).all()
    assert len(own) == 4  # the fee; the rider's issuer, smrt and the house settling
    assert set(own) == {START + 2 * HOUR}


def test_a_close_waits_for_a_posting_in_flight_and_clears_it(database: Database) -> None:
    """A posting that read the horizon before the close began commits first,
    and the close, which waited for it, clears it: nothing can slip in
    behind a cycle once it is closed."""
    posted, release = threading.Event(), threading.Event()
    in_flight = transfer_id_for("fare", "in-flight")

    def post() -> None:
        posting = Posting(
            in_flight,
            AccountRef("ezlink", AccountCode.RIDER_FUNDS, "SGD", "ezlink-0"),
            AccountRef("smrt", AccountCode.FARE_REVENUE, "SGD"),
            Money(120, "SGD"), "fare", "in-flight",
        )  # fmt: skip
        with database.transaction() as session:
            post_chains(session, [[posting]], START + HOUR)
            posted.set()
            release.wait(10)

    poster = threading.Thread(target=post)
    poster.start()
    assert posted.wait(10)
    closer = threading.Thread(
        target=_close, args=(database, "one", START + 2 * HOUR, START + 3 * HOUR)
    )
    closer.start()
    closer.join(0.5)
    assert closer.is_alive(), "the close must wait for the posting in flight"
    release.set()
    poster.join(10)
    closer.join(10)
    assert _cycles(database)[in_flight] == 1
    assert _earned(database, 1) == 120


def test_a_close_gives_its_sqlite_connection_back_with_its_own_read_settings(
    tmp_path: Path,
) -> None:
    """The close maps the file and raises the page cache while it reads; the
    pooled connection's next user must get the settings it had before."""
    database = Database(f"sqlite:///{tmp_path / 'clearing.db'}")
    database.migrate()
    populate(database)
    try:
        _fare(database, "c1", 300, START + HOUR)
        with database.transaction() as session:
            connection = session.connection()
            settings = ("cache_size", "mmap_size")
            before = [connection.exec_driver_sql(f"PRAGMA {n}").scalar_one() for n in settings]
            close_cycle(session, "one", START + 2 * HOUR)
            after = [connection.exec_driver_sql(f"PRAGMA {n}").scalar_one() for n in settings]
    finally:
        database.dispose()
    assert after == before
