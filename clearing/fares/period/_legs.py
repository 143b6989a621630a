"""Standalone fares of single trips, read from the GTFS-Fares v2 feed.

A trip is priced as a one-leg journey by the GTFS engine's own leg matching
(``clearing.fares.gtfs``), so fare_leg_rules, areas, networks, timeframes
and rider categories mean exactly what they mean for a quote. Results are
memoized by everything matching reads: route, stops, rider category and
which timeframe groups the tap-on and tap-off fall in. The memo is only a
cache: the same inputs always give the same fare.
"""

from __future__ import annotations

from datetime import datetime

from clearing.fares.gtfs import FareFeed, JourneyLeg, JourneyQuery
from clearing.fares.gtfs._index import FeedIndex, LocalEvent, build_index, in_timeframe_group
from clearing.fares.gtfs._match import match_leg, single_fare_leg

_LegKey = tuple[str, str | None, str | None, str | None, tuple[str, ...], tuple[str, ...]]


def _seconds(local: datetime) -> int:
    return local.hour * 3600 + local.minute * 60 + local.second


class LegFares:
    """Prices single trips under one feed; build once per tariff."""

    def __init__(self, feed: FareFeed) -> None:
        # Times are handed over already on the local clock, so the index
        # needs no zone of its own (see _index.local_event).
        self._index: FeedIndex = build_index(feed)._replace(timezone=None)
        groups = {r.from_timeframe_group_id for r in feed.fare_leg_rules}
        groups |= {r.to_timeframe_group_id for r in feed.fare_leg_rules}
        self._groups = tuple(sorted(group for group in groups if group))
        self._categories = frozenset(c.rider_category_id for c in feed.rider_categories)
        self._memo: dict[_LegKey, int | None] = {}

    def _signature(self, local: datetime) -> tuple[str, ...]:
        if not self._groups:
            return ()
        event = LocalEvent(local.date(), _seconds(local))
        return tuple(g for g in self._groups if in_timeframe_group(self._index, g, event))

    def fare(
        self,
        route_id: str,
        from_stop_id: str | None,
        to_stop_id: str | None,
        *,
        departure: datetime,
        arrival: datetime,
        rider_category: str | None,
    ) -> int | None:
        """The cheapest fare the feed offers this rider for the trip, in
        minor units; None when no rule prices it. ``departure`` and
        ``arrival`` are local wall-clock times. A category the feed does not
        define is priced as the default rider (farebridge.toml concessions
        apply on top)."""
        category = rider_category if rider_category in self._categories else None
        key = (
            route_id,
            from_stop_id,
            to_stop_id,
            category,
            self._signature(departure),
            self._signature(arrival),
        )
        if key not in self._memo:
            self._memo[key] = self._match(key[:4], departure, arrival)
        return self._memo[key]

    def _match(
        self,
        what: tuple[str, str | None, str | None, str | None],
        departure: datetime,
        arrival: datetime,
    ) -> int | None:
        route_id, from_stop_id, to_stop_id, category = what
        if route_id not in self._index.route_networks:
            return None
        start = _seconds(departure)
        # An arrival on a later local day stays on the departure's service day.
        end = start + max(0, int((arrival - departure).total_seconds()))
        leg = JourneyLeg(route_id, from_stop_id, to_stop_id, start, end, None)
        query = JourneyQuery(departure.date(), None, category, None, (leg,))
        chosen = match_leg(self._index, single_fare_leg(self._index, (leg,), 0), query).chosen
        return chosen.product.amount if chosen else None
