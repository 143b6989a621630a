"""Clearing fees: what the clearing house charges each participant per cycle.

A schedule names, per participant and currency, basis points of the
participant's gross fares in the cycle (fares its operators earned, or its
riders incurred, net of that cycle's fare adjustments) and a fee per fare
transfer. The fee is ``round_half_up(gross * bps / 10 000) + count * per
transaction``, rounded once per participant, currency and cycle. A cycle
whose adjustments exceed its fares has a negative gross and may refund.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from fractions import Fraction
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from clearing.errors import InvalidRequestError, NotFoundError
from clearing.ledger import AccountCode, AccountRef, Posting, transfer_id_for
from clearing.settlement._fx import round_half_up
from clearing.storage.models import FeeScheduleRow, ParticipantRow
from clearing.values import Currency, Money, ParticipantId, check_currency

MAX_BASIS_POINTS = 10_000


class FeeSchedule(NamedTuple):
    participant_id: ParticipantId
    currency: Currency
    basis_points: int
    per_transaction_minor: int


class Fee(NamedTuple):
    """A participant's clearing fee for one cycle in one currency.

    gross_fares: fares in the cycle net of adjustments (the basis-point base).
    fare_count: fare transfers in the cycle (the per-transaction base).
    amount: the fee; negative is a refund to the participant.
    """

    participant_id: ParticipantId
    currency: Currency
    gross_fares: int
    fare_count: int
    basis_points: int
    per_transaction_minor: int
    amount: int


def fee_amount(gross_fares: int, fare_count: int, schedule: FeeSchedule) -> int:
    share = Fraction(gross_fares * schedule.basis_points, MAX_BASIS_POINTS)
    return round_half_up(share) + fare_count * schedule.per_transaction_minor


def fees_for(
    bases: Mapping[tuple[ParticipantId, Currency], tuple[int, int]],
    schedules: Mapping[tuple[ParticipantId, Currency], FeeSchedule],
) -> list[Fee]:
    """The fee of every participant with both a schedule and fares (pure)."""
    fees = []
    for key in sorted(bases.keys() & schedules.keys()):
        gross, count = bases[key]
        schedule = schedules[key]
        amount = fee_amount(gross, count, schedule)
        fees.append(Fee(*key, gross, count, *schedule[2:], amount))
    return fees


def fee_posting(cycle_number: int, fee: Fee, house: ParticipantId) -> Posting:
    payer = AccountRef(fee.participant_id, AccountCode.CLEARING_FEES, fee.currency)
    earner = AccountRef(house, AccountCode.FEE_REVENUE, fee.currency)
    refund = fee.amount < 0
    return Posting(
        transfer_id=transfer_id_for(
            "fee", f"{cycle_number}\x1f{fee.participant_id}\x1f{fee.currency}"
        ),
        debit=earner if refund else payer,
        credit=payer if refund else earner,
        amount=Money(abs(fee.amount), fee.currency),
        code="fee_refund" if refund else "fee",
        user_data=f"cycle {cycle_number}",
    )


def set_fee_schedule(session: Session, schedule: FeeSchedule, now: datetime) -> FeeSchedule:
    """Sets (or replaces) a participant's fee schedule in one currency; it
    applies from the next cycle close on."""
    check_currency(schedule.currency)
    if not 0 <= schedule.basis_points <= MAX_BASIS_POINTS:
        raise InvalidRequestError("basis points run from 0 to 10000", field="basis_points")
    if schedule.per_transaction_minor < 0:
        raise InvalidRequestError(
            "a per-transaction fee cannot be negative", field="per_transaction"
        )
    if session.get(ParticipantRow, schedule.participant_id) is None:
        raise NotFoundError(f"{schedule.participant_id!r} is not a registered participant")
    row = session.get(FeeScheduleRow, (schedule.participant_id, schedule.currency))
    if row is None:
        row = FeeScheduleRow(participant_id=schedule.participant_id, currency=schedule.currency)
        session.add(row)
    row.basis_points = schedule.basis_points
    row.per_transaction_minor = schedule.per_transaction_minor
    row.updated_at = now
    session.flush()
    return schedule


def load_fee_schedules(session: Session) -> dict[tuple[str, str], FeeSchedule]:
    rows = session.scalars(select(FeeScheduleRow))
    return {
        (r.participant_id, r.currency): FeeSchedule(
            r.participant_id, r.currency, r.basis_points, r.per_transaction_minor
        )
        for r in rows
    }
