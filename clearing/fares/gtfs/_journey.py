"""The journey to quote, as a typed value, read from its JSON form.

Times are GTFS times on the service date: seconds since "noon minus 12h",
so ``25:10:00`` is ten past one the next morning. Every problem names the
JSON path at fault.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from clearing.fares.gtfs._csv import parse_gtfs_time
from clearing.fares.gtfs._errors import JourneyError


class JourneyLeg(NamedTuple):
    """One ride: the route, where the rider boarded and alighted (None: not
    given), and when, in seconds of the service day. ``distance_km`` is
    carried for farebridge's distance-band extension; the adopted GTFS-Fares
    v2 rules do not read it."""

    route_id: str
    from_stop_id: str | None
    to_stop_id: str | None
    departure: int
    arrival: int
    distance_km: Decimal | None


class JourneyQuery(NamedTuple):
    """What to price. ``timezone`` None: the feed's agency time zone.
    ``rider_category_id`` None: the default category. ``fare_media_id`` None:
    any fare medium (the cheapest is chosen)."""

    service_date: date
    timezone: str | None
    rider_category_id: str | None
    fare_media_id: str | None
    legs: tuple[JourneyLeg, ...]


def _text(data: Mapping[str, object], key: str, path: str, *, required: bool) -> str | None:
    value = data.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise JourneyError("must be a non-empty string", field=f"{path}{key}")
    return value


def _time(data: Mapping[str, object], key: str, path: str) -> int:
    value = _text(data, key, path, required=True)
    seconds = parse_gtfs_time(value or "")
    if seconds is None:
        raise JourneyError(f"{value!r} is not a GTFS time like 08:05:00", field=f"{path}{key}")
    return seconds


def _distance(data: Mapping[str, object], path: str) -> Decimal | None:
    value = data.get("distance_km")
    if value is None:
        return None
    try:
        if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
            raise InvalidOperation
        distance = Decimal(str(value))
    except InvalidOperation:
        raise JourneyError("must be a number", field=f"{path}distance_km") from None
    if not distance.is_finite() or distance < 0:
        raise JourneyError("must be a non-negative number", field=f"{path}distance_km")
    return distance


def _leg(data: object, index: int) -> JourneyLeg:
    path = f"legs[{index}]."
    if not isinstance(data, Mapping):
        raise JourneyError("must be an object", field=f"legs[{index}]")
    leg = JourneyLeg(
        _text(data, "route_id", path, required=True) or "",
        _text(data, "from_stop_id", path, required=False),
        _text(data, "to_stop_id", path, required=False),
        _time(data, "departure", path),
        _time(data, "arrival", path),
        _distance(data, path),
    )
    if leg.arrival < leg.departure:
        raise JourneyError("arrival is before departure", field=f"{path}arrival")
    return leg


def _service_date(data: Mapping[str, object]) -> date:
    value = _text(data, "service_date", "", required=True)
    try:
        return date.fromisoformat(value or "")
    except ValueError:
        raise JourneyError(f"{value!r} is not a YYYY-MM-DD date", field="service_date") from None


def _timezone(data: Mapping[str, object]) -> str | None:
    value = _text(data, "timezone", "", required=False)
    if value is not None:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise JourneyError(f"{value!r} is not an IANA time zone", field="timezone") from None
    return value


def _legs(data: Mapping[str, object]) -> tuple[JourneyLeg, ...]:
    raw = data.get("legs")
    if not isinstance(raw, Sequence) or isinstance(raw, str) or not raw:
        raise JourneyError("must be a non-empty list of legs", field="legs")
    legs = tuple(_leg(item, index) for index, item in enumerate(raw))
    for index in range(1, len(legs)):
        if legs[index].departure < legs[index - 1].arrival:
            raise JourneyError(
                "departs before the previous leg arrives", field=f"legs[{index}].departure"
            )
    return legs


def parse_journey(data: object) -> JourneyQuery:
    """The journey described by ``data`` (parsed JSON). Raises JourneyError
    naming the first field at fault."""
    if not isinstance(data, Mapping):
        raise JourneyError("a journey must be a JSON object", field="$")
    return JourneyQuery(
        _service_date(data),
        _timezone(data),
        _text(data, "rider_category_id", "", required=False),
        _text(data, "fare_media_id", "", required=False),
        _legs(data),
    )
