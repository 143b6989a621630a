"""Taps become trips: a tap-on and its tap-off, or a tap-on alone on a mode
without tap-offs. Pure: sorted taps and the horizon decide everything.

Pairing (docs.md, "Trips"): a tap-off ends the open tap-on when both are on
the same operator and mode and the tap-off comes within the mode's longest
trip; any other tap-on or tap-off in between leaves the tap-on unpaired. An
unpaired tap-on is OPEN (its tap-off may still arrive from an offline
reader) until the horizon passes tap-on + longest trip; then it is
INCOMPLETE. A tap-off with no tap-on is INCOMPLETE at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import NamedTuple

from clearing.fares.period._tariff import ModeRule, Tariff
from clearing.fares.period._values import RiderTap
from clearing.values import Direction

# A mode farebridge.toml does not describe is flat: tap-on only.
FLAT = ModeRule(tap_off=False, max_trip_s=3 * 3600, tap_on_fare=0, incomplete_fare=None)


class TripState(StrEnum):
    COMPLETE = "complete"
    OPEN = "open"
    INCOMPLETE = "incomplete"


class Trip(NamedTuple):
    """One ride. ``first`` is the tap-on (the tap-off for an orphan tap-off);
    ``off`` the tap-off when there is one. ``start``/``end`` are local
    wall-clock times of the first and last tap."""

    state: TripState
    first: RiderTap
    off: RiderTap | None
    rule: ModeRule
    start: datetime
    end: datetime

    @property
    def taps(self) -> tuple[RiderTap, ...]:
        return (self.first,) if self.off is None else (self.first, self.off)


def _trip(state: TripState, first: RiderTap, off: RiderTap | None, tariff: Tariff) -> Trip:
    rule = tariff.modes.get(first.mode, FLAT)
    start = first.at.astimezone(tariff.zone)
    end = off.at.astimezone(tariff.zone) if off is not None else start
    return Trip(state, first, off, rule, start, end)


def _unpaired(tap: RiderTap, tariff: Tariff, horizon: datetime) -> Trip:
    rule = tariff.modes.get(tap.mode, FLAT)
    late = horizon >= tap.at + timedelta(seconds=rule.max_trip_s)
    return _trip(TripState.INCOMPLETE if late else TripState.OPEN, tap, None, tariff)


def _ends(on: RiderTap, off: RiderTap, rule: ModeRule) -> bool:
    return (
        on.operator_id == off.operator_id
        and on.mode == off.mode
        and (off.at - on.at).total_seconds() <= rule.max_trip_s
    )


def form_trips(taps: Sequence[RiderTap], tariff: Tariff, horizon: datetime) -> list[Trip]:
    """Trips from taps sorted by (time, tap_id), in order of their first tap."""
    trips: list[Trip] = []
    pending: RiderTap | None = None
    for tap in taps:
        rule = tariff.modes.get(tap.mode, FLAT)
        if tap.direction is Direction.OFF:
            if not rule.tap_off:
                continue  # A flat mode's tap-off costs nothing and ends nothing.
            if pending is not None and _ends(pending, tap, rule):
                trips.append(_trip(TripState.COMPLETE, pending, tap, tariff))
                pending = None
                continue
            if pending is not None:
                trips.append(_unpaired(pending, tariff, horizon))
                pending = None
            trips.append(_trip(TripState.INCOMPLETE, tap, None, tariff))
            continue
        if pending is not None:
            trips.append(_unpaired(pending, tariff, horizon))
            pending = None
        if rule.tap_off:
            pending = tap
        else:
            trips.append(_trip(TripState.COMPLETE, tap, None, tariff))
    if pending is not None:
        trips.append(_unpaired(pending, tariff, horizon))
    return trips
