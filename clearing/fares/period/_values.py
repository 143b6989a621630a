"""The values period pricing reads and returns. All immutable; money is
integer minor units (``Money``); instants are aware UTC datetimes."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import NamedTuple

from clearing.values import Direction, Mode, Money, ParticipantId, TapId


class RiderTap(NamedTuple):
    """One tap of one rider, as the journal holds it.

    tap_id: the reader's idempotency key; the same id twice is one tap.
    at: when the tap happened (aware, UTC or any offset).
    direction: tap-on or tap-off.
    operator_id: the operator running the reader.
    mode: the reader's mode (metro gate, bus validator, ferry pier).
    stop_id: the GTFS stop (or station) of the reader.
    route_id: the GTFS route, when the reader knows it (a bus does, a metro
        gate does not); None lets the tariff pick the operator's route for
        the mode.
    distance_m: on a tap-off, the distance ridden as the vehicle measured it
        (Seoul buses report it); None takes it from the tariff's distances.
    """

    tap_id: TapId
    at: datetime
    direction: Direction
    operator_id: ParticipantId
    mode: Mode
    stop_id: str
    route_id: str | None = None
    distance_m: int | None = None


class ChargeKind(StrEnum):
    """What a charge pays for.

    base: a journey's base fare (distance tariffs), or what an open trip
        costs at tap-on while its tap-off may still arrive.
    distance_surcharge: the distance bands over a journey's summed distance.
    leg: one trip at its standalone fare.
    transfer: several trips joined by a transfer rule (a hopper) for one fare.
    cap_rebate: what a cap gives back on the charge it follows (negative).
    incomplete: the maximum fare of a trip with a missing tap.
    """

    BASE = "base"
    DISTANCE_SURCHARGE = "distance_surcharge"
    LEG = "leg"
    TRANSFER = "transfer"
    CAP_REBATE = "cap_rebate"
    INCOMPLETE = "incomplete"


class Share(NamedTuple):
    """An operator's part of one charge, in the charge's minor units."""

    operator_id: ParticipantId
    minor_units: int


class Charge(NamedTuple):
    """One amount a rider owes, and its split among operators.

    charge_id: derived from ``kind`` and ``tap_ids`` only, so pricing the same
        taps again gives the same id, and a charge whose taps change (a
        transfer joins, a tap-off arrives) gets a new one.
    kind: what it pays for.
    tap_ids: the taps it covers, sorted.
    service_day: the local service day of the journey's first tap; caps and
        the ledger read it.
    amount: negative only for ``cap_rebate``.
    shares: per operator, sorted by operator; they sum exactly to ``amount``
        and none has the opposite sign of it.
    """

    charge_id: str
    kind: ChargeKind
    tap_ids: tuple[TapId, ...]
    service_day: date
    amount: Money
    shares: tuple[Share, ...]


class UnknownFare(NamedTuple):
    """Taps no rule prices. They are reported, never charged as zero."""

    tap_ids: tuple[TapId, ...]
    reason: str


class PeriodCharges(NamedTuple):
    """A rider's charges for a capping period.

    charges: in the order the rider incurred them (first tap, then kind).
    total: their sum.
    unknown: trips the tariff could not price, with why.
    """

    charges: tuple[Charge, ...]
    total: Money
    unknown: tuple[UnknownFare, ...]


class Adjustment(NamedTuple):
    """What to post to bring one operator's part of one charge from what was
    posted before to what it is now. ``amount_delta`` is never zero."""

    charge_id: str
    operator_id: ParticipantId
    amount_delta: Money
