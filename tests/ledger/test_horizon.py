"""The horizon a posting reads is read once per transaction, and a close in
the same transaction, or a later transaction, sees where it moved.

A transaction that stores several reader batches stamps each batch's
transfers through ``after_horizon``; reading the horizon once there is
only right while nothing else can move it, so these pin what must still
hold.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import event
from sqlalchemy.engine import Connection

from clearing.ledger import HORIZON_STEP, advance_horizon, hold_horizon
from clearing.ledger._horizon import after_horizon
from tests.ledger.conftest import START, Ledger


def _horizon_reads(connection: Connection) -> list[str]:
    reads: list[str] = []

    @event.listens_for(connection, "before_cursor_execute")
    def _count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if "FROM ledger_horizon" in statement:
            reads.append(statement)

    return reads


def test_batches_of_one_transaction_read_the_horizon_once(ledger: Ledger) -> None:
    with ledger.database.transaction() as session:
        reads = _horizon_reads(session.connection())
        stamps = [after_horizon(session, START + timedelta(seconds=n)) for n in range(3)]
    assert stamps == [START, START + timedelta(seconds=1), START + timedelta(seconds=2)]
    assert len(reads) == 1


def test_a_horizon_moved_in_the_same_transaction_is_read_again(ledger: Ledger) -> None:
    cut_off = START + timedelta(hours=1)
    with ledger.database.transaction() as session:
        assert after_horizon(session, START) == START
        hold_horizon(session)
        advance_horizon(session, cut_off)
        assert after_horizon(session, START) == cut_off + HORIZON_STEP


def test_the_next_transaction_sees_a_horizon_another_one_moved(ledger: Ledger) -> None:
    cut_off = START + timedelta(hours=1)
    with ledger.database.transaction() as session:
        assert after_horizon(session, START) == START
    with ledger.database.transaction() as session:
        hold_horizon(session)
        advance_horizon(session, cut_off)
    with ledger.database.transaction() as session:
        assert after_horizon(session, START) == cut_off + HORIZON_STEP
