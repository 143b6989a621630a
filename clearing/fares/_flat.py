"""Flat fares: one amount per operator and mode, charged at tap-on.

The simplest real tariff, and still the rule for many buses: the fare is
known the moment the rider boards, so tap-offs cost nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import StrEnum
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from clearing.errors import InvalidRequestError, NotFoundError
from clearing.storage.models import FlatFareRow, ParticipantRow
from clearing.values import (
    Currency,
    DeviceId,
    Direction,
    MediumToken,
    Mode,
    Money,
    ParticipantId,
    Role,
    Tap,
    TapId,
    check_currency,
)

FlatFares = Mapping[tuple[ParticipantId, Mode], Money]


class UnpricedReason(StrEnum):
    """Why a tap-on produced no charge. A missing fare is never a zero fare."""

    NO_FARE = "no_fare"
    UNKNOWN_MEDIUM = "unknown_medium"
    CURRENCY_MISMATCH = "currency_mismatch"


class Charge(NamedTuple):
    """What one rider owes one operator for one tap.

    issuer_id: the issuer holding the rider's funds, who pays.
    """

    tap_id: TapId
    operator_id: ParticipantId
    issuer_id: ParticipantId
    medium_token: MediumToken
    amount: Money


class Unpriced(NamedTuple):
    """A tap-on that could not be priced, kept for the clearing house to resolve."""

    tap_id: TapId
    reason: UnpricedReason
    detail: str


class PricingContext(NamedTuple):
    """Everything flat pricing reads besides the taps themselves.

    fares: flat fare per (operator, mode).
    device_modes: the mode of each reader.
    media_issuers: the issuer of each known medium token.
    issuer_currencies: the currency each issuer holds riders' funds in.
    """

    fares: FlatFares
    device_modes: Mapping[DeviceId, Mode]
    media_issuers: Mapping[MediumToken, ParticipantId]
    issuer_currencies: Mapping[ParticipantId, Currency]


def _price_one(tap: Tap, context: PricingContext) -> Charge | Unpriced:
    mode = context.device_modes[tap.device_id]
    fare = context.fares.get((tap.operator_id, mode))
    if fare is None:
        detail = f"{tap.operator_id} has no flat fare for {mode}"
        return Unpriced(tap.tap_id, UnpricedReason.NO_FARE, detail)
    issuer = context.media_issuers.get(tap.medium_token)
    if issuer is None:
        detail = f"medium {tap.medium_token} is not registered by any issuer"
        return Unpriced(tap.tap_id, UnpricedReason.UNKNOWN_MEDIUM, detail)
    if context.issuer_currencies[issuer] != fare.currency:
        detail = f"fare in {fare.currency}, rider funds in {context.issuer_currencies[issuer]}"
        return Unpriced(tap.tap_id, UnpricedReason.CURRENCY_MISMATCH, detail)
    return Charge(tap.tap_id, tap.operator_id, issuer, tap.medium_token, fare)


def price_flat(taps: Iterable[Tap], context: PricingContext) -> list[Charge | Unpriced]:
    """Prices every tap-on; tap-offs are free under a flat tariff and yield nothing."""
    return [_price_one(tap, context) for tap in taps if tap.direction is Direction.ON]


_FARES_READ = "clearing.fares.flat_fares"


def load_flat_fares(session: Session) -> dict[tuple[ParticipantId, Mode], Money]:
    """The flat fare of each operator and mode, read once per session: a
    transaction that stores several reader batches prices them all with the
    fares it read first."""
    fares: dict[tuple[ParticipantId, Mode], Money] | None = session.info.get(_FARES_READ)
    if fares is None:
        columns = (FlatFareRow.operator_id, FlatFareRow.mode, FlatFareRow.amount_minor)
        rows = session.execute(select(*columns, FlatFareRow.currency))
        fares = {
            (operator, Mode(mode)): Money(amount, currency)
            for operator, mode, amount, currency in rows
        }
        session.info[_FARES_READ] = fares
    return fares


def set_flat_fare(
    session: Session, operator_id: ParticipantId, mode: Mode, fare: Money, now: datetime
) -> None:
    check_currency(fare.currency)
    session.info.pop(_FARES_READ, None)
    if fare.minor_units < 0:
        raise InvalidRequestError("a fare cannot be negative", field="fare.minor_units")
    operator = session.get(ParticipantRow, operator_id)
    if operator is None or operator.role != Role.OPERATOR.value:
        raise NotFoundError(f"{operator_id!r} is not a registered operator")
    row = session.get(FlatFareRow, (operator_id, mode.value))
    if row is None:
        session.add(
            FlatFareRow(
                operator_id=operator_id,
                mode=mode.value,
                amount_minor=fare.minor_units,
                currency=fare.currency,
                updated_at=now,
            )
        )
        return
    row.amount_minor, row.currency, row.updated_at = fare.minor_units, fare.currency, now
