"""Closing a cycle and reading it back.

A cycle ends at its cut-off. Closing claims, in one INSERT ... SELECT, every
ledger transfer created at or before the cut-off that no earlier cycle
cleared; the primary key of ``cycle_transfers`` makes each transfer's
cycle unique even if two closes race. A transfer created after the
cut-off (a late tap's re-pricing difference included) waits for a later
cycle, where it is an adjustment: a closed cycle is never reopened.

The close holds the ledger's horizon while it runs and advances it to the
cut-off: nothing can commit afterwards with a timestamp the cycle covered,
so the next close reads only the range between the two cut-offs.

The sums per participant and currency are read from the ledger over the
claim's own condition (docs.md, Cost). Then, in the same transaction: the
clearing fees, posted through the ledger and cleared in this cycle;
settlement instructions that net every position to zero, posted as one
linked chain per currency and cleared in this cycle too.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    Select,
    func,
    insert,
    literal,
    literal_column,
    select,
    text,
    union_all,
)
from sqlalchemy.orm import Session

from clearing.errors import InvalidRequestError, NotFoundError, NothingToCloseError
from clearing.ledger import (
    AccountCode,
    advance_horizon,
    hold_horizon,
    post_chains,
    posted_only,
)
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
    transfers: int  # in the set, moving posted money or not


# The close may raise SQLite's page cache this far (KiB) while it runs: the
# claim and the totals each read the cycle's transfers once more.
_SQLITE_CACHE_KIB = 256 * 1024
# and map this much of the database file (SQLite caps it at its own
# compile-time maximum, 2 GiB by default; the rest is read as usual).
_SQLITE_MMAP_BYTES = 1 << 32


# SQLite's own row number: only ever a way to read, never a record.
_ROWID: ColumnElement[int] = literal_column("ledger_transfers.rowid")


def _candidates(
    columns: list[ColumnElement[Any]],
    cut_off: datetime,
    since: datetime | None,
    *,
    late: bool = True,
    span: tuple[int, int] | None = None,
) -> Select[Any]:
    """What a close at ``cut_off`` clears: every transfer created by then
    that no earlier cycle cleared. ``since`` is the last cycle's
    ``cleared_through`` (None: nothing was ever cleared), its cut-off since
    the ledger has a horizon. A transfer created after it cannot have been
    cleared; under a horizon nothing at or before it can be unclaimed
    either. Before one, older transfers (a transaction that committed late,
    or one created between a cut-off and its close) are checked against the
    earlier claims, when ``late`` says some may be unclaimed. The rest is a
    range of the created_at index, or on SQLite, given the window's ``span``
    of rowids, a range of the table itself."""
    created = LedgerTransferRow.created_at
    if span is not None and since is not None and not late:
        # Reading a million rows through the index costs a lookup in the
        # table for each; the table's own range holds them in order. The
        # rowids only steer the read: the condition stays the window's.
        wrapped = func.coalesce(created, created)
        return select(*columns).where(_ROWID.between(*span), wrapped > since, wrapped <= cut_off)
    if since is None:
        # Everything up to the cut-off: a scan. SQLite cannot tell from a
        # range how much of the index it covers; wrapped, the index is out.
        return select(*columns).where(func.coalesce(created, created) <= cut_off)
    already = select(CycleTransferRow.transfer_id).where(
        CycleTransferRow.transfer_id == LedgerTransferRow.transfer_id
    )
    window = select(*columns).where(created > since, created <= cut_off)
    if not late:
        return window
    older = select(*columns).where(created <= min(since, cut_off), ~already.exists())
    return union_all(window, older)  # type: ignore[return-value]


def _sqlite_span(session: Session, cut_off: datetime, since: datetime) -> tuple[int, int] | None:
    """The first and last rowid of the window's transfers (SQLite), read
    from the created_at index alone; None when the window is empty."""
    created = LedgerTransferRow.created_at
    low, high = session.execute(
        select(func.min(_ROWID), func.max(_ROWID)).where(created > since, created <= cut_off)
    ).one()
    return None if low is None else (int(low), int(high))


def _claimed(columns: list[ColumnElement[Any]], cycle_number: int) -> Select[Any]:
    """The transfers a cycle claimed (a full read of its membership)."""
    return (
        select(*columns)
        .join(CycleTransferRow, CycleTransferRow.transfer_id == LedgerTransferRow.transfer_id)
        .where(CycleTransferRow.cycle_number == cycle_number)
    )


def _side_columns(side: str, sqlite: bool) -> list[ColumnElement[Any]]:
    account: ColumnElement[Any] = getattr(LedgerTransferRow, f"{side}_account_id")
    if sqlite:
        # An expression, not the column: SQLite would otherwise walk the
        # account index for the GROUP BY and read every row at random; a
        # straight scan that sorts is twice as fast.
        account = func.coalesce(account, account)
    return [
        account.label("account_id"),
        LedgerTransferRow.code.label("code"),
        posted_only().label("posted"),
        LedgerTransferRow.amount.label("amount"),
    ]


def _side(session: Session, source: Select[Any]) -> list[tuple[str, str, str, str, bool, int, int]]:
    """(participant, currency, account code, transfer code, posted, sum,
    count) over one side of a set of transfers: grouped by account first, so
    only the groups meet the accounts table."""
    rows = source.subquery()
    grouped = (
        select(
            rows.c.account_id, rows.c.code, rows.c.posted,
            func.sum(rows.c.amount).label("total"), func.count().label("n"),
        )
        .group_by(rows.c.account_id, rows.c.code, rows.c.posted)
        .subquery()
    )  # fmt: skip
    result = session.execute(
        select(
            LedgerAccountRow.participant_id, LedgerAccountRow.currency, LedgerAccountRow.code,
            grouped.c.code, grouped.c.posted, func.sum(grouped.c.total), func.sum(grouped.c.n),
        )
        .join(LedgerAccountRow, LedgerAccountRow.account_id == grouped.c.account_id)
        .group_by(
            LedgerAccountRow.participant_id, LedgerAccountRow.currency, LedgerAccountRow.code,
            grouped.c.code, grouped.c.posted,
        )
    )  # fmt: skip
    return [(p, c, a, t, bool(posted), int(sum_), int(n)) for p, c, a, t, posted, sum_, n in result]


def _totals(session: Session, source: Callable[[str], Select[Any]]) -> _Totals:
    sums: dict[str, dict[Key, int]] = {"credit": defaultdict(int), "debit": defaultdict(int)}
    bases: dict[Key, tuple[int, int]] = {}
    counts = {}
    for side in ("credit", "debit"):
        counts[side] = 0
        for participant, currency, account_code, code, posted, total, count in _side(
            session, source(side)
        ):
            counts[side] += count
            if not posted:
                continue
            key = (participant, currency)
            sums[side][key] += total
            sign = _FARE_SIGNS.get((side, account_code, code))
            if sign is not None:
                gross, fares = bases.get(key, (0, 0))
                bases[key] = (gross + sign * total, fares + (count if sign > 0 else 0))
    # Under READ COMMITTED each statement sees its own snapshot; the ledger
    # only grows, so equal counts mean both sides read the same transfers.
    same = counts["credit"] if counts["credit"] == counts["debit"] else -1
    return _Totals(dict(sums["credit"]), dict(sums["debit"]), bases, same)


def _insert_claim(
    session: Session,
    cycle_number: int,
    cut_off: datetime,
    since: datetime | None,
    *,
    late: bool,
    span: tuple[int, int] | None,
) -> int:
    """Claims the candidates in one INSERT ... SELECT, in id order (the
    primary key's B-tree then fills page by page); answers how many."""
    rows = _candidates(
        [LedgerTransferRow.transfer_id.label("transfer_id")], cut_off, since, late=late, span=span
    ).subquery()
    claim = insert(CycleTransferRow).from_select(
        ["transfer_id", "cycle_number"],
        select(rows.c.transfer_id, literal(cycle_number)).order_by(rows.c.transfer_id),
    )
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:
        session.execute(text("SET LOCAL work_mem = '256MB'"))
        if since is not None and late:
            # The anti-join reads the very table the statement inserts into. A
            # nested loop over it rescans every page written so far (the new
            # rows are invisible but still read); a hash anti-join reads the
            # earlier claims once.
            session.execute(text("SET LOCAL enable_nestloop = off"))
    # Through the connection: the ORM's result of an INSERT ... SELECT does
    # not carry the driver's row count, and SQLAlchemy keeps it only if asked.
    options = {"preserve_rowcount": True}
    inserted = session.connection().execute(claim, execution_options=options).rowcount
    if postgres:
        session.execute(text("RESET work_mem"))
        session.execute(text("RESET enable_nestloop"))
    if inserted is None or inserted < 0:
        claimed = select(func.count()).where(CycleTransferRow.cycle_number == cycle_number)
        inserted = int(session.scalar(claimed) or 0)
    return int(inserted)


def _claim(
    session: Session, cycle_number: int, cut_off: datetime, since: datetime | None, *, legacy: bool
) -> tuple[int, _Totals]:
    """Claims what the cycle clears and sums it per participant and currency.

    The sums are taken first, straight from the ledger over the same
    candidates (no join back through the claimed rows), then the claim. On
    SQLite the write transaction sees one unchanging database; on PostgreSQL
    the held horizon keeps postings out until the close commits. Equal
    counts confirm that the sums cover exactly the claimed set (each
    statement has its own snapshot there); otherwise they are taken again
    from the claimed rows. ``legacy``: the previous cycles were closed
    before the ledger had a horizon.
    """
    sqlite = session.get_bind().dialect.name == "sqlite"
    late = legacy and since is not None and _unclaimed_below(session, cycle_number - 1, since)
    span = _sqlite_span(session, cut_off, since) if sqlite and since and not late else None
    totals = _totals(
        session,
        lambda side: _candidates(_side_columns(side, sqlite), cut_off, since, late=late, span=span),
    )
    claimed = _insert_claim(session, cycle_number, cut_off, since, late=late, span=span)
    if claimed and claimed != totals.transfers:
        totals = _totals(session, lambda side: _claimed(_side_columns(side, sqlite), cycle_number))
    return claimed, totals


def _unclaimed_below(session: Session, last: int, since: datetime) -> bool:
    """Whether a transfer created at or before ``since`` may be unclaimed.

    Every transfer the cycles up to ``last`` claimed was created at or
    before ``since`` (their ``cleared_through``), and they claimed, in all,
    their transfer counts plus their settlement transfers. So the transfers
    created by ``since`` number exactly that many unless some are unclaimed.
    Counting them is a range of the created_at index; the anti-join it
    spares walks every older transfer against ``cycle_transfers``. Without
    a complete record (cycles closed before it was kept) assume yes.
    """
    recorded = session.execute(
        select(
            func.count(CycleCutOffRow.cycle_number),
            func.count(CycleCutOffRow.cleared_through),
            func.coalesce(func.sum(CycleCutOffRow.settlement_count), 0),
        ).where(CycleCutOffRow.cycle_number <= last)
    ).one()
    if recorded[0] != last or recorded[1] != last:
        return True
    cleared = session.scalar(
        select(func.coalesce(func.sum(ClearingCycleRow.transfer_count), 0)).where(
            ClearingCycleRow.cycle_number <= last
        )
    )
    created = session.scalar(select(func.count()).where(LedgerTransferRow.created_at <= since))
    return int(created or 0) != int(cleared or 0) + int(recorded[2])


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


def _charge_fees(
    session: Session, cycle_number: int, totals: _Totals, house: str, now: datetime
) -> list[Fee]:
    fees = [f for f in fees_for(totals.fare_bases, load_fee_schedules(session)) if f.amount]
    postings = [fee_posting(cycle_number, fee, house) for fee in fees]
    post_chains(session, [[p] for p in postings], now)
    ids = [p.transfer_id for p in postings]
    _claim_ids(session, cycle_number, ids)
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
    ids = [p.transfer_id for p in postings]
    _claim_ids(session, cycle_number, ids)
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


def _cleared_through(session: Session, last: int, cut_off: datetime) -> datetime | None:
    """The bound below which a close checks candidates against earlier
    claims: None when no cycle was ever closed; the close's own cut-off
    (check everything) when the previous cycle did not record one."""
    if last == 0:
        return None
    row = session.get(CycleCutOffRow, last)
    if row is None or row.cleared_through is None:
        return cut_off
    return row.cleared_through


@contextmanager
def _sqlite_reads(session: Session) -> Iterator[None]:
    """A larger page cache and a memory-mapped file for this connection
    while the close runs, then the connection's own settings again.

    The close reads every transfer of the cycle three times (two sums and
    the claim); through the map a page is read in place instead of copied
    into the cache first, which takes about a quarter off the close."""
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        yield
        return
    settings = {
        "cache_size": -_SQLITE_CACHE_KIB,
        "mmap_size": _SQLITE_MMAP_BYTES,
    }
    before = {
        name: int(connection.exec_driver_sql(f"PRAGMA {name}").scalar_one()) for name in settings
    }
    for name, value in settings.items():
        connection.exec_driver_sql(f"PRAGMA {name} = {value}")
    try:
        yield
    finally:
        for name, value in before.items():
            connection.exec_driver_sql(f"PRAGMA {name} = {value}")


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
    horizon = hold_horizon(session)
    last = int(session.scalar(select(func.max(ClearingCycleRow.cycle_number))) or 0)
    _check_cut_off(session, last, cut_off, now)
    number = last + 1
    cycle = ClearingCycleRow(
        cycle_number=number, close_id=close_id, closed_at=now, transfer_count=0
    )
    session.add(cycle)
    session.flush()
    # Under a horizon the previous close left it at its cut-off, which it
    # recorded as cleared_through; the range starts there either way.
    since = _cleared_through(session, last, cut_off)
    with _sqlite_reads(session):
        claimed, totals = _claim(session, number, cut_off, since, legacy=horizon is None)
    if claimed == 0:
        raise NothingToCloseError(
            f"no transfer committed by {cut_off.isoformat()} awaits clearing; nothing to close"
        )
    house = clearing_house_id(session)
    # The close's own postings are dated at the cut-off: inside the cycle
    # they belong to, and behind the horizon the close leaves.
    fees = _charge_fees(session, number, totals, house, cut_off)
    rows = positions(totals.credits, totals.debits)
    instructions = _settle(session, number, rows, house, cut_off)
    cycle.transfer_count = claimed + len(fees)
    session.add_all(CyclePositionRow(cycle_number=number, **p._asdict()) for p in rows)
    session.add(
        CycleCutOffRow(
            cycle_number=number, cut_off=cut_off, settlement_count=len(instructions),
            cleared_through=cut_off,
        )
    )  # fmt: skip
    advance_horizon(session, cut_off)
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
