"""Fare legs: joining consecutive legs into effective fare legs
(fare_leg_join_rules.txt) and matching each against fare_leg_rules.txt.

Matching follows the adopted reference's fare_leg_rules.txt procedure:

* With a ``rule_priority`` column, an empty network or area field does not
  affect matching; of the rules that match, only those with the highest
  priority are kept.
* Without it, a rule that matches the leg exactly (every field equal, an
  empty field only for a leg that has no value there) wins; only if none
  does, an empty field matches every value *not listed* in that column of
  any rule.
* Timeframe fields never use the inverse semantics: empty means the leg's
  time does not affect matching.
* No matching rule means the fare is unknown, never zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from clearing.fares.gtfs._feed import FareLegJoinRule, FareLegRule, FareProduct
from clearing.fares.gtfs._index import (
    FeedIndex,
    areas_of,
    in_timeframe_group,
    local_event,
    station_of,
)
from clearing.fares.gtfs._journey import JourneyLeg, JourneyQuery


class FareLeg(NamedTuple):
    """An effective fare leg: one journey leg, or consecutive legs a join rule
    makes one. ``legs`` are the journey's leg indexes it covers; its network
    is the legs' common network (None if they differ or have none)."""

    legs: tuple[int, ...]
    network_id: str | None
    from_stop_id: str | None
    to_stop_id: str | None
    departure: int
    arrival: int


class Candidate(NamedTuple):
    """A way to pay for a fare leg: the rule that matched and the product row
    this rider may use."""

    rule: FareLegRule
    product: FareProduct


class LegMatch(NamedTuple):
    """What matched a fare leg. ``candidates`` are filtered for the rider;
    ``chosen`` is the cheapest of them, or None when the fare is unknown."""

    fare_leg: FareLeg
    rules: tuple[FareLegRule, ...]
    candidates: tuple[Candidate, ...]
    chosen: Candidate | None


def _joins(index: FeedIndex, rule: FareLegJoinRule, before: JourneyLeg, after: JourneyLeg) -> bool:
    if (index.route_networks.get(before.route_id), index.route_networks.get(after.route_id)) != (
        rule.from_network_id,
        rule.to_network_id,
    ):
        return False
    if before.to_stop_id is None or after.from_stop_id is None:
        return False
    if rule.from_stop_id is not None:
        return rule.from_stop_id in (before.to_stop_id, station_of(index, before.to_stop_id)) and (
            rule.to_stop_id in (after.from_stop_id, station_of(index, after.from_stop_id))
        )
    # Unless stops are named, the legs must meet at the same station.
    return station_of(index, before.to_stop_id) == station_of(index, after.from_stop_id)


def _fare_leg(index: FeedIndex, legs: Sequence[JourneyLeg], indexes: tuple[int, ...]) -> FareLeg:
    first, last = legs[indexes[0]], legs[indexes[-1]]
    networks = {index.route_networks.get(legs[i].route_id) for i in indexes}
    network = networks.pop() if len(networks) == 1 else None
    return FareLeg(
        indexes, network, first.from_stop_id, last.to_stop_id, first.departure, last.arrival
    )


def single_fare_leg(index: FeedIndex, legs: Sequence[JourneyLeg], position: int) -> FareLeg:
    """Journey leg ``position`` as a fare leg of its own, never joined."""
    return _fare_leg(index, legs, (position,))


def fare_legs(index: FeedIndex, legs: Sequence[JourneyLeg]) -> tuple[FareLeg, ...]:
    """The journey's effective fare legs: a transfer that matches a join rule
    merges the legs around it, and chains of such transfers merge whole
    sub-journeys."""
    groups: list[list[int]] = []
    for position, leg in enumerate(legs):
        joined = position > 0 and any(
            _joins(index, rule, legs[position - 1], leg) for rule in index.feed.fare_leg_join_rules
        )
        if joined:
            groups[-1].append(position)
        else:
            groups.append([position])
    return tuple(_fare_leg(index, legs, tuple(group)) for group in groups)


def _exact(rule_value: str | None, leg_values: frozenset[str]) -> bool:
    return rule_value in leg_values if rule_value is not None else not leg_values


def _inverse(rule_value: str | None, leg_values: frozenset[str], listed: frozenset[str]) -> bool:
    if rule_value is not None:
        return rule_value in leg_values
    return not leg_values or any(value not in listed for value in leg_values)


def _any(rule_value: str | None, leg_values: frozenset[str]) -> bool:
    return rule_value is None or rule_value in leg_values


class _LegFacts(NamedTuple):
    network: frozenset[str]
    from_areas: frozenset[str]
    to_areas: frozenset[str]


def _facts(index: FeedIndex, leg: FareLeg) -> _LegFacts:
    network = frozenset({leg.network_id}) if leg.network_id else frozenset()
    return _LegFacts(network, areas_of(index, leg.from_stop_id), areas_of(index, leg.to_stop_id))


def _in_time(index: FeedIndex, rule: FareLegRule, leg: FareLeg, query: JourneyQuery) -> bool:
    timezone = query.timezone or index.timezone
    for group, seconds in (
        (rule.from_timeframe_group_id, leg.departure),
        (rule.to_timeframe_group_id, leg.arrival),
    ):
        if group is not None:
            event = local_event(query.service_date, seconds, timezone)
            if not in_timeframe_group(index, group, event):
                return False
    return True


def matching_rules(index: FeedIndex, leg: FareLeg, query: JourneyQuery) -> tuple[FareLegRule, ...]:
    """The fare leg rules that apply to ``leg``, per the reference's
    procedure (see the module docstring)."""
    facts = _facts(index, leg)
    timely = [r for r in index.feed.fare_leg_rules if _in_time(index, r, leg, query)]
    if index.feed.has_rule_priority:
        matched = [
            r
            for r in timely
            if _any(r.network_id, facts.network)
            and _any(r.from_area_id, facts.from_areas)
            and _any(r.to_area_id, facts.to_areas)
        ]
        top = max((r.rule_priority for r in matched), default=0)
        return tuple(r for r in matched if r.rule_priority == top)
    exact = [
        r
        for r in timely
        if _exact(r.network_id, facts.network)
        and _exact(r.from_area_id, facts.from_areas)
        and _exact(r.to_area_id, facts.to_areas)
    ]
    if exact:
        return tuple(exact)
    return tuple(
        r
        for r in timely
        if _inverse(r.network_id, facts.network, index.listed_networks)
        and _inverse(r.from_area_id, facts.from_areas, index.listed_from_areas)
        and _inverse(r.to_area_id, facts.to_areas, index.listed_to_areas)
    )


def _most_specific(
    rows: Sequence[FareProduct], wanted: str | None, attribute: str, fallback: frozenset[str]
) -> list[FareProduct]:
    """Rows naming exactly what the rider asked for beat rows that leave the
    field empty ("eligible for any" / "medium unknown")."""
    chosen = {wanted} if wanted is not None else fallback
    named = [row for row in rows if getattr(row, attribute) in chosen]
    return named or [row for row in rows if getattr(row, attribute) is None]


def eligible_rows(index: FeedIndex, product_id: str, query: JourneyQuery) -> list[FareProduct]:
    """The rows of a product this rider may pay with.

    Category: the one asked for, else the default categories; rows with an
    empty category serve anyone only when no row names the category.
    Medium: the one asked for (else rows with an unknown medium); with no
    medium asked for, every medium is open to the rider.
    """
    rows = _most_specific(
        index.products.get(product_id, ()),
        query.rider_category_id,
        "rider_category_id",
        index.default_categories,
    )
    if query.fare_media_id is None:
        return rows
    return _most_specific(rows, query.fare_media_id, "fare_media_id", frozenset())


def _price_order(candidate: Candidate) -> tuple[int, str, str, int]:
    rule, product = candidate
    return (product.amount, product.fare_product_id, rule.leg_group_id or "", rule.row)


def match_leg(index: FeedIndex, leg: FareLeg, query: JourneyQuery) -> LegMatch:
    """Every rule and product that can pay for ``leg``, and the cheapest one:
    the reference does not say which of several matching products a rider
    buys, and a quote offers the rider the least they can pay."""
    rules = matching_rules(index, leg, query)
    candidates = tuple(
        Candidate(rule, product)
        for rule in rules
        for product in eligible_rows(index, rule.fare_product_id, query)
    )
    chosen = min(candidates, key=_price_order) if candidates else None
    return LegMatch(leg, rules, candidates, chosen)
