"""The period pricer: taps to charges, and charges to the adjustments a
ledger posts. Pure: same taps, tariff, category and horizon, same result.

Pipeline (docs.md, "Data flow"):
taps ─dedupe, sort─▶ trips ─▶ journeys (drafts) ─▶ concessions ─▶ caps
     ─▶ apportionment ─▶ PeriodCharges
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta

from clearing.fares.period._apportion import shares, weights_for
from clearing.fares.period._journeys import Draft, Journey, form_journeys, price_trip
from clearing.fares.period._tariff import Cap, Concession, Tariff
from clearing.fares.period._trips import form_trips
from clearing.fares.period._values import (
    Adjustment,
    Charge,
    ChargeKind,
    PeriodCharges,
    RiderTap,
    Share,
)
from clearing.values import Money


def charge_id(kind: ChargeKind, tap_ids: Iterable[str]) -> str:
    """A charge's identity: its kind and the taps it covers, hashed, so it
    is the same on every re-pricing and changes when its taps change."""
    text = "\x1f".join((kind.value, *sorted(tap_ids)))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _unique(taps: Iterable[RiderTap]) -> list[RiderTap]:
    """One tap per tap_id, sorted by (time, tap_id). Ingest rejects a reused
    id with different content, so which copy is kept never matters; the
    smallest is kept so that even then the result is order-free."""
    best: dict[str, RiderTap] = {}
    for tap in taps:
        if tap.at.tzinfo is None:
            raise ValueError(f"tap {tap.tap_id} has a naive time; pass aware UTC instants")
        kept = best.get(tap.tap_id)
        if kept is None or _order(tap) < _order(kept):
            best[tap.tap_id] = tap
    return sorted(best.values(), key=lambda tap: (tap.at, tap.tap_id))


def _order(tap: RiderTap) -> tuple[object, ...]:
    return (
        tap.at,
        tap.direction,
        tap.operator_id,
        tap.mode,
        tap.stop_id,
        tap.route_id or "",
        -1 if tap.distance_m is None else tap.distance_m,
    )


def service_day(tariff: Tariff, at: datetime) -> date:
    """The local service day an instant belongs to: a day starts at the
    tariff's service-day start (04:30 in London), not at midnight."""
    local = at.astimezone(tariff.zone)
    return (local - timedelta(seconds=tariff.service_day_start_s)).date()


def _discounted(concession: Concession | None, cumulative: int) -> int:
    if concession is None:
        return cumulative
    if concession.fixed is not None:
        return min(cumulative, concession.fixed)
    return cumulative * (100 - (concession.percent_off or 0)) // 100


def _concession(journey: Journey, concession: Concession | None) -> list[Draft]:
    """A concession applies to the running total of a journey, so its
    charges add up to the discounted journey fare exactly."""
    if concession is None:
        return list(journey.drafts)
    drafts, before, paid = [], 0, 0
    for draft in journey.drafts:
        before += draft.amount
        due = _discounted(concession, before) - paid
        paid += due
        drafts.append(draft._replace(amount=due))
    return drafts


class _Caps:
    """Running spend per (cap, period); a charge pays at most what every cap
    covering its journey has left (docs.md, "Capping")."""

    def __init__(self, caps: Sequence[Cap], rider_category: str | None) -> None:
        self.caps = [
            cap
            for cap in caps
            if not cap.rider_categories or rider_category in cap.rider_categories
        ]
        self.spent: dict[tuple[str, object], int] = {}

    def covering(self, journey: Journey, day: date) -> list[tuple[Cap, tuple[str, object]]]:
        modes = {t.trip.first.mode for t in journey.trips}
        areas = frozenset().union(*(t.areas for t in journey.trips))
        return [
            (cap, (cap.cap_id, day if cap.period == "day" else day.isocalendar()[:2]))
            for cap in self.caps
            if (not cap.modes or modes <= cap.modes) and (not cap.areas or areas <= cap.areas)
        ]

    def allow(self, amount: int, covering: Sequence[tuple[Cap, tuple[str, object]]]) -> int:
        allowed = amount
        for cap, key in covering:
            allowed = min(allowed, max(0, cap.amount - self.spent.get(key, 0)))
        for _, key in covering:
            self.spent[key] = self.spent.get(key, 0) + allowed
        return allowed


def _charge(
    kind: ChargeKind,
    tap_ids: tuple[str, ...],
    day: date,
    amount: int,
    *,
    currency: str,
    split_as: tuple[Share, ...],
) -> Charge:
    return Charge(charge_id(kind, tap_ids), kind, tap_ids, day, Money(amount, currency), split_as)


def _journey_charges(
    journey: Journey, tariff: Tariff, caps: _Caps, concession: Concession | None
) -> list[Charge]:
    day = service_day(tariff, journey.trips[0].trip.first.at)
    covering = caps.covering(journey, day) if journey.counts_to_caps else []
    charges = []
    for draft in _concession(journey, concession):
        if draft.amount == 0:
            continue
        weights = weights_for(draft.kind, draft.trips, tariff.apportionment)
        charge = _charge(
            draft.kind,
            draft.tap_ids,
            day,
            draft.amount,
            currency=tariff.currency,
            split_as=shares(draft.amount, weights),
        )
        charges.append(charge)
        allowed = caps.allow(draft.amount, covering) if draft.amount > 0 else draft.amount
        if allowed < draft.amount:
            rebate = allowed - draft.amount
            # Split in proportion to the capped charge's own shares, so no
            # operator's net part of it ever goes below zero.
            by_share = {share.operator_id: share.minor_units for share in charge.shares}
            charges.append(
                Charge(
                    charge_id(ChargeKind.CAP_REBATE, (charge.charge_id,)),
                    ChargeKind.CAP_REBATE,
                    draft.tap_ids,
                    day,
                    Money(rebate, tariff.currency),
                    shares(rebate, by_share),
                )
            )
    return charges


def price_period(
    taps: Iterable[RiderTap],
    tariff: Tariff,
    rider_category: str | None,
    horizon: datetime,
) -> PeriodCharges:
    """A rider's charges for a capping period (pass every tap of the longest
    capping period, a week when weekly caps apply).

    Pure: depends only on the *set* of taps (order and duplicate tap ids do
    not matter), the tariff, the rider category (None: the default rider)
    and ``horizon``, the instant up to which taps are known. See docs.md for
    when an unpaired tap-on becomes an incomplete journey.
    """
    if horizon.tzinfo is None:
        raise ValueError("horizon must be an aware instant")
    trips = [
        price_trip(t, tariff, rider_category) for t in form_trips(_unique(taps), tariff, horizon)
    ]
    journeys, unknown = form_journeys(trips, tariff)
    caps = _Caps(tariff.caps, rider_category)
    concession = tariff.concessions.get(rider_category) if rider_category else None
    charges = [
        charge
        for journey in journeys
        for charge in _journey_charges(journey, tariff, caps, concession)
    ]
    total = Money(sum(charge.amount.minor_units for charge in charges), tariff.currency)
    return PeriodCharges(tuple(charges), total, tuple(unknown))


def _parts(charges: PeriodCharges) -> dict[tuple[str, str], int]:
    return {
        (charge.charge_id, share.operator_id): share.minor_units
        for charge in charges.charges
        for share in charge.shares
    }


def diff_charges(old: PeriodCharges, new: PeriodCharges) -> list[Adjustment]:
    """What to post to go from ``old`` (already posted) to ``new``: per charge
    and operator, the change in that operator's share. The deltas sum to
    ``new.total - old.total``; identical pricings give no adjustment."""
    before, after = _parts(old), _parts(new)
    currency = new.total.currency
    return [
        Adjustment(key[0], key[1], Money(after.get(key, 0) - before.get(key, 0), currency))
        for key in sorted(before.keys() | after.keys())
        if after.get(key, 0) != before.get(key, 0)
    ]
