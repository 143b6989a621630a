"""Trips become journeys, and journeys become draft charges (amounts not
yet discounted, capped or split).

Three ways trips join (docs.md, "Journeys"), tried in this order:

* the integrated distance scheme: trips on its modes, each boarded within
  the transfer window after the previous one ended, at most
  ``max_transfers`` transfers; the journey pays the highest standalone base
  among its trips plus the distance bands over its summed distance;
* a hopper: trips on its modes boarded within its window of the chain's
  first tap-on pay the dearest of their standalone fares once;
* otherwise each trip is its own journey at its standalone fare.

Incomplete trips are journeys of their own, at the mode's maximum fare.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import NamedTuple

from clearing.fares.period._tariff import Band, DistanceScheme, Hopper, Tariff
from clearing.fares.period._trips import Trip, TripState
from clearing.fares.period._values import ChargeKind, UnknownFare
from clearing.values import Mode, ParticipantId


class PricedTrip(NamedTuple):
    """A trip with what pricing needs to know about it.

    fare: its standalone fare from the feed (None: no rule prices it).
    distance_m: metres ridden (None: unknown or not a complete trip).
    areas: the fare areas of its stops.
    """

    trip: Trip
    operator_id: ParticipantId
    fare: int | None
    distance_m: int | None
    areas: frozenset[str]


class Draft(NamedTuple):
    """A charge before concessions, caps and apportionment: what it is, the
    trips whose operators share it, the taps it covers, its amount."""

    kind: ChargeKind
    trips: tuple[PricedTrip, ...]
    tap_ids: tuple[str, ...]
    amount: int


class Journey(NamedTuple):
    """Trips paid for together, and their draft charges in the order the
    rider incurs them. Incomplete journeys never count towards caps."""

    trips: tuple[PricedTrip, ...]
    drafts: tuple[Draft, ...]
    counts_to_caps: bool


def _distance(trip: Trip, tariff: Tariff) -> int | None:
    off = trip.off
    if trip.state is not TripState.COMPLETE or off is None:
        return None
    if off.distance_m is not None:
        return off.distance_m
    if off.stop_id == trip.first.stop_id:
        return 0
    return tariff.distances_m.get((trip.first.stop_id, off.stop_id))


def price_trip(trip: Trip, tariff: Tariff, rider_category: str | None) -> PricedTrip:
    """The trip's standalone fare, distance and areas."""
    first, off = trip.first, trip.off
    route = first.route_id or tariff.routes_by_operator_mode.get((first.operator_id, first.mode))
    areas = tariff.stop_areas.get(first.stop_id, frozenset())
    if off is not None:
        areas |= tariff.stop_areas.get(off.stop_id, frozenset())
    fare = None
    if route is not None and trip.state is not TripState.INCOMPLETE:
        to_stop = off.stop_id if off is not None else None
        fare = tariff.leg_fares.fare(
            route,
            first.stop_id,
            to_stop,
            departure=trip.start,
            arrival=trip.end,
            rider_category=rider_category,
        )
    return PricedTrip(trip, first.operator_id, fare, _distance(trip, tariff), areas)


def surcharge(bands: Sequence[Band], distance_m: int) -> int:
    """The distance bands' total for a distance: each started step of each
    band costs its amount."""
    total = 0
    for band in bands:
        upper = distance_m if band.to_m is None else min(distance_m, band.to_m)
        if upper > band.from_m:
            total += -(-(upper - band.from_m) // band.step_m) * band.amount
    return total


def transfer_window(scheme: DistanceScheme, ended: datetime) -> int:
    """Seconds allowed from the end of one trip to the next tap-on, by the
    local time the trip ended."""
    seconds = ended.hour * 3600 + ended.minute * 60 + ended.second
    for window in scheme.windows:
        crosses = window.end <= window.start
        inside = window.start <= seconds < window.end
        if crosses:
            inside = seconds >= window.start or seconds < window.end
        if inside:
            return window.window_s
    return scheme.default_window_s


def _joins(scheme: DistanceScheme, journey: list[PricedTrip], trip: PricedTrip) -> bool:
    last = journey[-1].trip
    if last.state is not TripState.COMPLETE or len(journey) > scheme.max_transfers:
        return False
    gap = (trip.trip.start - last.end).total_seconds()
    return 0 <= gap <= transfer_window(scheme, last.end)


def _tap_ids(trips: Sequence[PricedTrip], *, ons_only: bool = False) -> tuple[str, ...]:
    taps = (t.trip.first if ons_only else tap for t in trips for tap in t.trip.taps)
    return tuple(sorted({tap.tap_id for tap in taps}))


def _unknown(trips: Sequence[PricedTrip], reason: str) -> UnknownFare:
    return UnknownFare(_tap_ids(trips), reason)


def _distance_journey(
    scheme: DistanceScheme, trips: tuple[PricedTrip, ...], unknown: list[UnknownFare]
) -> Journey | None:
    if any(t.fare is None for t in trips):
        unknown.append(_unknown(trips, "no fare leg rule prices a trip of this journey"))
        return None
    drafts = [
        Draft(
            ChargeKind.BASE, trips, _tap_ids(trips, ons_only=True), max(t.fare or 0 for t in trips)
        )
    ]
    ridden = tuple(t for t in trips if t.trip.state is TripState.COMPLETE)
    flat_alone = len(trips) == 1 and trips[0].trip.first.mode in scheme.alone_flat
    if ridden and not flat_alone:
        if any(t.distance_m is None for t in ridden):
            unknown.append(_unknown(ridden, "the distance of a trip is unknown"))
        else:
            total = sum(t.distance_m or 0 for t in ridden)
            drafts.append(
                Draft(
                    ChargeKind.DISTANCE_SURCHARGE,
                    ridden,
                    _tap_ids(ridden),
                    surcharge(scheme.bands, total),
                )
            )
    return Journey(trips, tuple(d for d in drafts if d.amount), counts_to_caps=True)


def _standalone(trip: PricedTrip, unknown: list[UnknownFare]) -> Journey | None:
    state = trip.trip.state
    if state is TripState.INCOMPLETE:
        fare = trip.trip.rule.incomplete_fare
        if fare is None:
            unknown.append(_unknown((trip,), "incomplete trip on a mode without a maximum fare"))
            return None
        draft = Draft(ChargeKind.INCOMPLETE, (trip,), _tap_ids((trip,)), fare)
        return Journey((trip,), (draft,) if fare else (), counts_to_caps=False)
    if state is TripState.OPEN:
        fare = trip.trip.rule.tap_on_fare
        draft = Draft(ChargeKind.BASE, (trip,), _tap_ids((trip,)), fare)
        return Journey((trip,), (draft,) if fare else (), counts_to_caps=True)
    if trip.fare is None:
        unknown.append(_unknown((trip,), "no fare leg rule prices this trip"))
        return None
    draft = Draft(ChargeKind.LEG, (trip,), _tap_ids((trip,)), trip.fare)
    return Journey((trip,), (draft,) if trip.fare else (), counts_to_caps=True)


def _hopper_journey(chain: tuple[PricedTrip, ...], unknown: list[UnknownFare]) -> Journey | None:
    if len(chain) == 1:
        return _standalone(chain[0], unknown)
    if any(t.fare is None for t in chain):
        unknown.append(_unknown(chain, "no fare leg rule prices a trip of this hopper journey"))
        return None
    fare = max(t.fare or 0 for t in chain)
    draft = Draft(ChargeKind.TRANSFER, chain, _tap_ids(chain), fare)
    return Journey(chain, (draft,) if fare else (), counts_to_caps=True)


class _Builder:
    """Walks trips in order, holding the journey each joining rule has open."""

    def __init__(self, tariff: Tariff) -> None:
        self.scheme = tariff.distance
        self.hoppers = tariff.hoppers
        self.distance_run: list[PricedTrip] = []
        self.chains: dict[int, list[PricedTrip]] = {}
        self.groups: list[tuple[str, tuple[PricedTrip, ...]]] = []

    def _close_distance(self) -> None:
        if self.distance_run:
            self.groups.append(("distance", tuple(self.distance_run)))
            self.distance_run = []

    def _hopper_for(self, mode: Mode) -> int | None:
        for number, hopper in enumerate(self.hoppers):
            if mode in hopper.modes:
                return number
        return None

    def _add_hopper(self, number: int, hopper: Hopper, trip: PricedTrip) -> None:
        chain = self.chains.get(number)
        window = timedelta(seconds=hopper.window_s)
        if chain and trip.trip.start - chain[0].trip.start < window:
            chain.append(trip)
            return
        if chain:
            self.groups.append(("hopper", tuple(chain)))
        self.chains[number] = [trip]

    def add(self, trip: PricedTrip) -> None:
        mode, state = trip.trip.first.mode, trip.trip.state
        scheme = self.scheme
        if scheme is not None and mode in scheme.modes and state is not TripState.INCOMPLETE:
            if self.distance_run and not _joins(scheme, self.distance_run, trip):
                self._close_distance()
            self.distance_run.append(trip)
            return
        number = self._hopper_for(mode)
        if number is not None and state is TripState.COMPLETE:
            self._add_hopper(number, self.hoppers[number], trip)
            return
        self.groups.append(("single", (trip,)))

    def finish(self) -> list[tuple[str, tuple[PricedTrip, ...]]]:
        self._close_distance()
        for number in sorted(self.chains):
            self.groups.append(("hopper", tuple(self.chains[number])))
        return self.groups


def form_journeys(
    trips: Sequence[PricedTrip], tariff: Tariff
) -> tuple[list[Journey], list[UnknownFare]]:
    """Journeys in order of their first tap, and the trips no rule prices."""
    builder = _Builder(tariff)
    for trip in trips:
        builder.add(trip)
    unknown: list[UnknownFare] = []
    journeys = []
    for how, group in builder.finish():
        journey: Journey | None
        if how == "distance" and tariff.distance is not None:
            journey = _distance_journey(tariff.distance, group, unknown)
        elif how == "hopper":
            journey = _hopper_journey(group, unknown)
        else:
            journey = _standalone(group[0], unknown)
        if journey is not None:
            journeys.append(journey)
    journeys.sort(key=lambda j: (j.trips[0].trip.first.at, j.trips[0].trip.first.tap_id))
    return journeys, unknown
