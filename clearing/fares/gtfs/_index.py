"""Lookups derived from a ``FareFeed``, built once per quote: which network
and operator a route belongs to, which areas a stop lies in, which days a
service runs, which rows a product has. Pure: the same feed always gives
the same index.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from clearing.fares.gtfs._feed import DAY, FareFeed, FareProduct, Timeframe


class LocalEvent(NamedTuple):
    """A fare validation event in local wall-clock terms: the "current day"
    and the time of day on it, in seconds (timeframes.txt, Timeframe Local
    Time Semantics)."""

    day: date
    seconds: int


class FeedIndex(NamedTuple):
    """Everything quoting looks up by identifier.

    operators: route_id to the operator (agency) running it.
    stop_areas: stop_id to the areas assigned to it directly.
    listed_*: values some leg rule names, for the "empty matches everything
        not listed" semantics of files without rule_priority.
    """

    feed: FareFeed
    route_networks: Mapping[str, str | None]
    operators: Mapping[str, str]
    parents: Mapping[str, str]
    stop_areas: Mapping[str, frozenset[str]]
    products: Mapping[str, tuple[FareProduct, ...]]
    default_categories: frozenset[str]
    timeframes: Mapping[str, tuple[Timeframe, ...]]
    listed_networks: frozenset[str]
    listed_from_areas: frozenset[str]
    listed_to_areas: frozenset[str]
    timezone: str | None


def _route_networks(feed: FareFeed) -> dict[str, str | None]:
    assigned = {link.route_id: link.network_id for link in feed.route_networks}
    return {
        route.route_id: route.network_id or assigned.get(route.route_id) for route in feed.routes
    }


def _operators(feed: FareFeed) -> dict[str, str]:
    """A route's operator is its agency_id; a single-agency feed may leave it
    out, and then the one agency (by id, else by name) runs every route."""
    sole = feed.agencies[0] if len(feed.agencies) == 1 else None
    fallback = (sole.agency_id or sole.agency_name) if sole else ""
    return {route.route_id: route.agency_id or fallback for route in feed.routes}


def _grouped(
    feed: FareFeed,
) -> tuple[dict[str, tuple[FareProduct, ...]], dict[str, tuple[Timeframe, ...]]]:
    products: dict[str, list[FareProduct]] = defaultdict(list)
    for product in feed.fare_products:
        products[product.fare_product_id].append(product)
    frames: dict[str, list[Timeframe]] = defaultdict(list)
    for frame in feed.timeframes:
        frames[frame.timeframe_group_id].append(frame)
    return (
        {key: tuple(rows) for key, rows in products.items()},
        {key: tuple(rows) for key, rows in frames.items()},
    )


def build_index(feed: FareFeed) -> FeedIndex:
    stop_areas: dict[str, set[str]] = defaultdict(set)
    for link in feed.stop_areas:
        stop_areas[link.stop_id].add(link.area_id)
    products, frames = _grouped(feed)
    rules = feed.fare_leg_rules
    return FeedIndex(
        feed=feed,
        route_networks=_route_networks(feed),
        operators=_operators(feed),
        parents={stop.stop_id: stop.parent_station for stop in feed.stops if stop.parent_station},
        stop_areas={stop: frozenset(areas) for stop, areas in stop_areas.items()},
        products=products,
        default_categories=frozenset(
            c.rider_category_id for c in feed.rider_categories if c.is_default
        ),
        timeframes=frames,
        listed_networks=frozenset(r.network_id for r in rules if r.network_id),
        listed_from_areas=frozenset(r.from_area_id for r in rules if r.from_area_id),
        listed_to_areas=frozenset(r.to_area_id for r in rules if r.to_area_id),
        timezone=feed.agencies[0].timezone if feed.agencies else None,
    )


def station_of(index: FeedIndex, stop_id: str) -> str:
    """The parent station of a platform, or the stop itself."""
    return index.parents.get(stop_id, stop_id)


def areas_of(index: FeedIndex, stop_id: str | None) -> frozenset[str]:
    """The areas a stop lies in. A station's areas extend to its platforms
    unless the platform is assigned areas of its own (stop_areas.txt)."""
    if stop_id is None:
        return frozenset()
    direct = index.stop_areas.get(stop_id)
    if direct:
        return direct
    parent = index.parents.get(stop_id)
    return index.stop_areas.get(parent, frozenset()) if parent else frozenset()


def service_runs(feed: FareFeed, service_id: str, day: date) -> bool:
    """Whether ``service_id`` runs on ``day``: calendar.txt's weekly pattern
    within its dates, then calendar_dates.txt's exceptions, which win."""
    for exception in feed.calendar_dates:
        if exception.service_id == service_id and exception.date == day:
            return exception.added
    return any(
        service.service_id == service_id
        and service.start_date <= day <= service.end_date
        and service.weekdays[day.weekday()]
        for service in feed.calendar
    )


def local_event(service_date: date, seconds: int, timezone: str | None) -> LocalEvent:
    """Where a GTFS time on a service day falls on the local clock.

    GTFS measures times from "noon minus 12h" of the service day, which is
    midnight except on days a daylight-saving change happens; the instant is
    then read back on the local clock to find the "current day" and time of
    day that timeframes are matched against. Without a time zone, days are
    taken as exactly 24 hours.
    """
    if timezone is None:
        days, rest = divmod(seconds, DAY)
        return LocalEvent(service_date + timedelta(days=days), rest)
    zone = ZoneInfo(timezone)
    noon = datetime.combine(service_date, time(12), zone).astimezone(UTC)
    local = (noon - timedelta(hours=12) + timedelta(seconds=seconds)).astimezone(zone)
    return LocalEvent(local.date(), local.hour * 3600 + local.minute * 60 + local.second)


def in_timeframe_group(index: FeedIndex, group_id: str, event: LocalEvent) -> bool:
    """A leg's event is in a timeframe group if some record of the group runs
    on the event's current day and ``start <= time < end`` (the end is
    exclusive)."""
    return any(
        frame.start <= event.seconds < frame.end
        and service_runs(index.feed, frame.service_id, event.day)
        for frame in index.timeframes.get(group_id, ())
    )
