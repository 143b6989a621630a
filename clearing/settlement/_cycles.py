"""Closing a cycle and reading it back.

A cycle ends at its cut-off. Closing claims, in one INSERT ... SELECT, every
ledger transfer committed at or before the cut-off that no earlier cycle
cleared; the primary key of ``cycle_transfers`` makes each transfer's
cycle unique even if two closes race. A transfer committed after the
cut-off (a late tap's re-pricing difference included) waits for a later
cycle, where it is an adjustment: a closed cycle is never reopened.

Then, in the same transaction: positions from two grouped queries over the
claimed set; the clearing fees, posted through the ledger and cleared in
this cycle; settlement instructions that net every position to zero,
posted as one linked chain per currency and cleared in this cycle too.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import func, insert, literal, select, text
from sqlalchemy.orm import Session

from clearing.errors import InvalidRequestError, NotFoundError, NothingToCloseError
from clearing.ledger import AccountCode, post_chains, posted_only
from clearing.settlement._fees import Fee, fee_posting, fees_for, load_fee_schedules
from clearing.settlement._fx import clearing_house_id
from clearing.settlement._netting import (
    Direction,
    Instruction,
    Position,
    instruction_posting,
    positions,
    settlement_chains,
    settlement_instructions,
)
from clearing.storage.models import (
    ClearingCycleRow,
    CycleCutOffRow,
    CycleFeeRow,
    CycleInstructionRow,
    CyclePositionRow,
    CycleTransferRow,
    LedgerAccountRow,
    LedgerTransferRow,
)
from clearing.values import Currency, ParticipantId

Key = tuple[ParticipantId, Currency]


class CycleSummary(NamedTuple):
    """A closed cycle.

    transfer_count: transfers it cleared, fees included, settlement excluded.
    positions: gross and net per participant and currency, fees included,
        before settlement (after settlement every net is zero).
    cut_off: the instant the cycle ends; it cleared what was committed by then.
    fees: clearing fees charged at close.
    instructions: who pays in and who is paid out, per currency.
    """

    cycle_number: int
    close_id: str
    closed_at: datetime
    transfer_count: int
    positions: tuple[Position, ...]
    cut_off: datetime | None = None
    fees: tuple[Fee, ...] = ()
    instructions: tuple[Instruction, ...] = ()


class _Totals(NamedTuple):
    credits: dict[Key, int]
    debits: dict[Key, int]
    fare_bases: dict[Key, tuple[int, int]]


def _claim(session: Session, cycle_number: int, cut_off: datetime) -> int:
    already = select(CycleTransferRow.transfer_id).where(
        CycleTransferRow.transfer_id == LedgerTransferRow.transfer_id
    )
    claim = insert(CycleTransferRow).from_select(
        ["transfer_id", "cycle_number"],
        select(LedgerTransferRow.transfer_id, literal(cycle_number)).where(
            LedgerTransferRow.created_at <= cut_off, ~already.exists()
        ),
    )
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:
        # The anti-join reads the very table the statement inserts into. A
        # nested loop over it rescans every page written so far (the new rows
        # are invisible but still read), which turns a million-row claim
        # quadratic; a hash anti-join reads the earlier claims once.
        session.execute(text("SET LOCAL enable_nestloop = off"))
    session.execute(claim)
    if postgres:
        session.execute(text("RESET enable_nestloop"))
    # Counted rather than read from rowcount, which drivers may leave at -1.
    claimed = select(func.count()).where(CycleTransferRow.cycle_number == cycle_number)
    return int(session.scalar(claimed) or 0)


def _claim_ids(session: Session, cycle_number: int, ids: list[uuid.UUID]) -> None:
    if ids:
        session.execute(
            insert(CycleTransferRow),
            [{"transfer_id": t, "cycle_number": cycle_number} for t in ids],
        )


# Which (account code, transfer code) pairs count towards a participant's
# gross fares, and with which sign, on each side of a transfer.
_FARE_SIGNS = {
    ("credit", AccountCode.FARE_REVENUE.value, "fare"): 1,
    ("debit", AccountCode.FARE_REVENUE.value, "fare_adjustment"): -1,
    ("debit", AccountCode.RIDER_FUNDS.value, "fare"): 1,
    ("credit", AccountCode.RIDER_FUNDS.value, "fare_adjustment"): -1,
}


def _side(
    session: Session, cycle_number: int, side: str
) -> list[tuple[str, str, str, str, int, int]]:
    """(participant, currency, account code, transfer code, sum, count): the
    claimed set grouped by account first, so only the groups meet the
    accounts table."""
    account = getattr(LedgerTransferRow, f"{side}_account_id")
    grouped = (
        select(
            account.label("account_id"),
            LedgerTransferRow.code.label("code"),
            func.sum(LedgerTransferRow.amount).label("total"),
            func.count().label("n"),
        )
        .select_from(CycleTransferRow)
        .join(LedgerTransferRow, LedgerTransferRow.transfer_id == CycleTransferRow.transfer_id)
        .where(CycleTransferRow.cycle_number == cycle_number, posted_only())
        .group_by(account, LedgerTransferRow.code)
        .subquery()
    )
    rows = session.execute(
        select(
            LedgerAccountRow.participant_id, LedgerAccountRow.currency, LedgerAccountRow.code,
            grouped.c.code, func.sum(grouped.c.total), func.sum(grouped.c.n),
        )
        .join(LedgerAccountRow, LedgerAccountRow.account_id == grouped.c.account_id)
        .group_by(
            LedgerAccountRow.participant_id, LedgerAccountRow.currency, LedgerAccountRow.code,
            grouped.c.code,
        )
    )  # fmt: skip
    return [(p, c, a, t, int(total), int(n)) for p, c, a, t, total, n in rows]


def _totals(session: Session, cycle_number: int) -> _Totals:
    sums: dict[str, dict[Key, int]] = {"credit": defaultdict(int), "debit": defaultdict(int)}
    bases: dict[Key, tuple[int, int]] = {}
    for side in ("credit", "debit"):
        for participant, currency, account_code, code, total, count in _side(
            session, cycle_number, side
        ):
            key = (participant, currency)
            sums[side][key] += total
            sign = _FARE_SIGNS.get((side, account_code, code))
            if sign is not None:
                gross, fares = bases.get(key, (0, 0))
                bases[key] = (gross + sign * total, fares + (count if sign > 0 else 0))
    return _Totals(dict(sums["credit"]), dict(sums["debit"]), bases)


def _charge_fees(
    session: Session, cycle_number: int, totals: _Totals, house: str, now: datetime
) -> list[Fee]:
    fees = [f for f in fees_for(totals.fare_bases, load_fee_schedules(session)) if f.amount]
    postings = [fee_posting(cycle_number, fee, house) for fee in fees]
    post_chains(session, [[p] for p in postings], now)
    _claim_ids(session, cycle_number, [p.transfer_id for p in postings])
    for fee in fees:
        payer, earner = (fee.participant_id, fee.currency), (house, fee.currency)
        amount = abs(fee.amount)
        if fee.amount > 0:
            totals.debits[payer] = totals.debits.get(payer, 0) + amount
            totals.credits[earner] = totals.credits.get(earner, 0) + amount
        else:
            totals.credits[payer] = totals.credits.get(payer, 0) + amount
            totals.debits[earner] = totals.debits.get(earner, 0) + amount
    session.add_all(
        CycleFeeRow(cycle_number=cycle_number, transfer_id=p.transfer_id, **f._asdict())
        for f, p in zip(fees, postings, strict=True)
    )
    return fees


def _settle(
    session: Session, cycle_number: int, rows: list[Position], house: str, now: datetime
) -> list[Instruction]:
    instructions = settlement_instructions(rows)
    chains = settlement_chains(cycle_number, instructions, house)
    post_chains(session, chains, now)
    postings = [instruction_posting(cycle_number, i, house) for i in instructions]
    _claim_ids(session, cycle_number, [p.transfer_id for p in postings])
    session.add_all(
        CycleInstructionRow(
            cycle_number=cycle_number, participant_id=i.participant_id, currency=i.currency,
            direction=i.direction.value, amount=i.amount, transfer_id=p.transfer_id,
        )
        for i, p in zip(instructions, postings, strict=True)
    )  # fmt: skip
    return instructions


def _previous_cut_off(session: Session, cycle_number: int) -> datetime | None:
    if cycle_number == 0:
        return None
    row = session.get(CycleCutOffRow, cycle_number)
    if row is not None:
        return row.cut_off
    closed = session.get(ClearingCycleRow, cycle_number)
    return closed.closed_at if closed is not None else None


def _check_cut_off(session: Session, last: int, cut_off: datetime, now: datetime) -> None:
    if cut_off > now:
        raise InvalidRequestError(
            f"the cut-off {cut_off.isoformat()} is in the future", field="cut_off"
        )
    previous = _previous_cut_off(session, last)
    if previous is not None and cut_off < previous:
        raise InvalidRequestError(
            f"the cut-off {cut_off.isoformat()} is before cycle {last}'s "
            f"({previous.isoformat()}): closed cycles are never reopened",
            field="cut_off",
        )


def close_cycle(
    session: Session, close_id: str, now: datetime, *, cut_off: datetime | None = None
) -> CycleSummary:
    """Closes the open cycle at ``cut_off`` (default ``now``) in the caller's
    transaction, charging fees and posting settlement through the ledger.

    Repeating a close with the same ``close_id`` answers the cycle it closed.
    Raises NothingToCloseError when no transfer committed by the cut-off
    awaits clearing, InvalidRequestError for a cut-off in the future or
    before the previous cycle's, NotFoundError without a clearing house.
    """
    earlier = session.scalar(select(ClearingCycleRow).where(ClearingCycleRow.close_id == close_id))
    if earlier is not None:
        return cycle_summary(session, earlier.cycle_number)
    cut_off = cut_off or now
    last = int(session.scalar(select(func.max(ClearingCycleRow.cycle_number))) or 0)
    _check_cut_off(session, last, cut_off, now)
    number = last + 1
    cycle = ClearingCycleRow(
        cycle_number=number, close_id=close_id, closed_at=now, transfer_count=0
    )
    session.add(cycle)
    session.flush()
    claimed = _claim(session, number, cut_off)
    if claimed == 0:
        raise NothingToCloseError(
            f"no transfer committed by {cut_off.isoformat()} awaits clearing; nothing to close"
        )
    house = clearing_house_id(session)
    totals = _totals(session, number)
    fees = _charge_fees(session, number, totals, house, now)
    rows = positions(totals.credits, totals.debits)
    instructions = _settle(session, number, rows, house, now)
    cycle.transfer_count = claimed + len(fees)
    session.add_all(CyclePositionRow(cycle_number=number, **p._asdict()) for p in rows)
    session.add(
        CycleCutOffRow(cycle_number=number, cut_off=cut_off, settlement_count=len(instructions))
    )
    session.flush()
    return CycleSummary(
        number, close_id, now, cycle.transfer_count, tuple(rows), cut_off,
        tuple(fees), tuple(instructions),
    )  # fmt: skip


def latest_cycle_number(session: Session) -> int:
    return int(session.scalar(select(func.max(ClearingCycleRow.cycle_number))) or 0)


def cycle_summary(session: Session, cycle_number: int | None = None) -> CycleSummary:
    """A closed cycle by number, or the latest one when ``cycle_number`` is None."""
    number = cycle_number or latest_cycle_number(session)
    cycle = session.get(ClearingCycleRow, number) if number else None
    if cycle is None:
        raise NotFoundError(
            "no clearing cycle has been closed yet"
            if not number
            else f"clearing cycle {number} does not exist"
        )
    where = CyclePositionRow.cycle_number == cycle.cycle_number
    position_rows = session.scalars(
        select(CyclePositionRow)
        .where(where)
        .order_by(CyclePositionRow.participant_id, CyclePositionRow.currency)
    )
    rows = tuple(
        Position(r.participant_id, r.currency, r.gross_credit, r.gross_debit, r.net)
        for r in position_rows
    )
    cut = session.get(CycleCutOffRow, cycle.cycle_number)
    return CycleSummary(
        cycle.cycle_number, cycle.close_id, cycle.closed_at, cycle.transfer_count, rows,
        cut.cut_off if cut is not None else None,
        _fees(session, cycle.cycle_number), _instructions(session, cycle.cycle_number),
    )  # fmt: skip


def _fees(session: Session, cycle_number: int) -> tuple[Fee, ...]:
    rows = session.scalars(
        select(CycleFeeRow)
        .where(CycleFeeRow.cycle_number == cycle_number)
        .order_by(CycleFeeRow.participant_id, CycleFeeRow.currency)
    )
    return tuple(
        Fee(r.participant_id, r.currency, r.gross_fares, r.fare_count, r.basis_points,
            r.per_transaction_minor, r.amount)
        for r in rows
    )  # fmt: skip


def _instructions(session: Session, cycle_number: int) -> tuple[Instruction, ...]:
    rows = session.scalars(
        select(CycleInstructionRow)
        .where(CycleInstructionRow.cycle_number == cycle_number)
        .order_by(CycleInstructionRow.participant_id, CycleInstructionRow.currency)
    )
    return tuple(
        Instruction(r.participant_id, r.currency, Direction(r.direction), r.amount) for r in rows
    )
