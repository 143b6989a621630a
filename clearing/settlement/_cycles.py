"""Closing a cycle and reading its positions."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import func, insert, literal, select
from sqlalchemy.orm import Session

from clearing.errors import NotFoundError, NothingToCloseError
from clearing.ledger import posted_only
from clearing.storage.models import (
    ClearingCycleRow,
    CyclePositionRow,
    CycleTransferRow,
    LedgerAccountRow,
    LedgerTransferRow,
)
from clearing.values import Currency, ParticipantId


class Position(NamedTuple):
    """A participant's standing in one currency for one cycle, in minor units.

    net: gross_credit - gross_debit; positive means the participant is owed.
    """

    participant_id: ParticipantId
    currency: Currency
    gross_credit: int
    gross_debit: int
    net: int


class CycleSummary(NamedTuple):
    cycle_number: int
    close_id: str
    closed_at: datetime
    transfer_count: int
    positions: tuple[Position, ...]


def _claim_uncleared_transfers(session: Session, cycle_number: int) -> int:
    already = select(CycleTransferRow.transfer_id).where(
        CycleTransferRow.transfer_id == LedgerTransferRow.transfer_id
    )
    claim = insert(CycleTransferRow).from_select(
        ["transfer_id", "cycle_number"],
        select(LedgerTransferRow.transfer_id, literal(cycle_number)).where(~already.exists()),
    )
    session.execute(claim)
    # Counted rather than read from rowcount, which drivers may leave at -1.
    claimed = select(func.count()).where(CycleTransferRow.cycle_number == cycle_number)
    return int(session.scalar(claimed) or 0)


def _side_totals(
    session: Session, cycle_number: int, *, credit: bool
) -> dict[tuple[str, str], int]:
    account_column = (
        LedgerTransferRow.credit_account_id if credit else LedgerTransferRow.debit_account_id
    )
    rows = session.execute(
        select(
            LedgerAccountRow.participant_id,
            LedgerAccountRow.currency,
            func.sum(LedgerTransferRow.amount),
        )
        .select_from(CycleTransferRow)
        .join(LedgerTransferRow, LedgerTransferRow.transfer_id == CycleTransferRow.transfer_id)
        .join(LedgerAccountRow, LedgerAccountRow.account_id == account_column)
        .where(CycleTransferRow.cycle_number == cycle_number, posted_only())
        .group_by(LedgerAccountRow.participant_id, LedgerAccountRow.currency)
    )
    return {(participant, currency): int(total) for participant, currency, total in rows}


def _positions(session: Session, cycle_number: int) -> list[Position]:
    credits = _side_totals(session, cycle_number, credit=True)
    debits = _side_totals(session, cycle_number, credit=False)
    positions = []
    for participant, currency in sorted(credits.keys() | debits.keys()):
        credit = credits.get((participant, currency), 0)
        debit = debits.get((participant, currency), 0)
        positions.append(Position(participant, currency, credit, debit, credit - debit))
    return positions


def close_cycle(session: Session, close_id: str, now: datetime) -> CycleSummary:
    """Closes the open cycle in the caller's transaction.

    Repeating a close with the same ``close_id`` answers the cycle it closed.
    Raises NothingToCloseError when no transfer awaits clearing.
    """
    earlier = session.scalar(select(ClearingCycleRow).where(ClearingCycleRow.close_id == close_id))
    if earlier is not None:
        return cycle_summary(session, earlier.cycle_number)
    last = session.scalar(select(func.max(ClearingCycleRow.cycle_number))) or 0
    cycle_number = last + 1
    cycle = ClearingCycleRow(
        cycle_number=cycle_number, close_id=close_id, closed_at=now, transfer_count=0
    )
    session.add(cycle)
    session.flush()
    cycle.transfer_count = _claim_uncleared_transfers(session, cycle_number)
    if cycle.transfer_count == 0:
        raise NothingToCloseError("every ledger transfer is already cleared; nothing to close")
    positions = _positions(session, cycle_number)
    session.add_all(CyclePositionRow(cycle_number=cycle_number, **p._asdict()) for p in positions)
    return CycleSummary(cycle_number, close_id, now, cycle.transfer_count, tuple(positions))


def cycle_summary(session: Session, cycle_number: int | None = None) -> CycleSummary:
    """A closed cycle by number, or the latest one when ``cycle_number`` is None."""
    number = cycle_number or session.scalar(select(func.max(ClearingCycleRow.cycle_number)))
    cycle = session.get(ClearingCycleRow, number) if number else None
    if cycle is None:
        raise NotFoundError(
            "no clearing cycle has been closed yet"
            if not number
            else f"clearing cycle {number} does not exist"
        )
    rows = session.scalars(
        select(CyclePositionRow)
        .where(CyclePositionRow.cycle_number == cycle.cycle_number)
        .order_by(CyclePositionRow.participant_id, CyclePositionRow.currency)
    )
    positions = tuple(
        Position(r.participant_id, r.currency, r.gross_credit, r.gross_debit, r.net) for r in rows
    )
    return CycleSummary(
        cycle.cycle_number, cycle.close_id, cycle.closed_at, cycle.transfer_count, positions
    )
