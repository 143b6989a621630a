"""Quoting a journey: fare legs, their products, transfers, the total, and
each charge's split among the operators whose legs it pays for.

``quote`` is a pure function of (feed, journey). A journey with any fare
leg no rule prices has an unknown fare: the quote says so and why, and
carries no total and no charges, because a partial sum would read as a
price.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import NamedTuple

from clearing.fares.gtfs._apportion import split
from clearing.fares.gtfs._errors import JourneyError
from clearing.fares.gtfs._feed import FareFeed
from clearing.fares.gtfs._index import FeedIndex, build_index
from clearing.fares.gtfs._journey import JourneyQuery
from clearing.fares.gtfs._match import LegMatch, fare_legs, match_leg, single_fare_leg
from clearing.fares.gtfs._money import format_minor
from clearing.fares.gtfs._transfers import ChargeKind, FareCharge, cost_journey


class Share(NamedTuple):
    """An operator's part of a charge, or of the whole journey, in minor units."""

    operator: str
    amount: int


class LegQuote(NamedTuple):
    """How one journey leg was priced. ``fare_leg`` is the effective fare leg
    it belongs to (legs joined by fare_leg_join_rules.txt share one);
    ``matched_fare_product_ids`` every product this rider could use for it;
    ``fare_product_id`` the one quoted (None: unknown fare)."""

    leg: int
    fare_leg: int
    matched_fare_product_ids: tuple[str, ...]
    fare_product_id: str | None
    leg_group_id: str | None


class QuoteCharge(NamedTuple):
    """One amount the rider pays, the journey legs it pays for, and its split
    among their operators."""

    kind: ChargeKind
    legs: tuple[int, ...]
    fare_product_id: str | None
    amount: int
    shares: tuple[Share, ...]


class Quote(NamedTuple):
    """The price of a journey. When ``fare_known`` is False, ``total`` and
    ``currency`` are None, there are no charges, and ``problems`` says why."""

    fare_known: bool
    currency: str | None
    total: int | None
    legs: tuple[LegQuote, ...]
    charges: tuple[QuoteCharge, ...]
    apportionment: tuple[Share, ...]
    problems: tuple[str, ...]


def _check_names(index: FeedIndex, query: JourneyQuery) -> None:
    """Everything the journey names must exist in the feed; a typo would
    otherwise surface as an unknown fare and be mistaken for a tariff gap."""
    feed = index.feed
    if query.rider_category_id is not None and query.rider_category_id not in {
        c.rider_category_id for c in feed.rider_categories
    }:
        raise JourneyError("not in rider_categories.txt", field="rider_category_id")
    if query.fare_media_id is not None and query.fare_media_id not in {
        m.fare_media_id for m in feed.fare_media
    }:
        raise JourneyError("not in fare_media.txt", field="fare_media_id")
    stops = {stop.stop_id for stop in feed.stops} if "stops.txt" in feed.files else None
    for position, leg in enumerate(query.legs):
        if leg.route_id not in index.route_networks:
            raise JourneyError(
                f"{leg.route_id!r} is not in routes.txt", field=f"legs[{position}].route_id"
            )
        for field in ("from_stop_id", "to_stop_id"):
            stop = getattr(leg, field)
            if stops is not None and stop is not None and stop not in stops:
                raise JourneyError(
                    f"{stop!r} is not in stops.txt", field=f"legs[{position}].{field}"
                )


def _leg_quotes(matches: Sequence[LegMatch]) -> tuple[LegQuote, ...]:
    quotes = []
    for number, match in enumerate(matches):
        chosen = match.chosen
        products = tuple(sorted({c.product.fare_product_id for c in match.candidates}))
        for leg in match.fare_leg.legs:
            quotes.append(
                LegQuote(
                    leg,
                    number,
                    products,
                    chosen.product.fare_product_id if chosen else None,
                    chosen.rule.leg_group_id if chosen else None,
                )
            )
    return tuple(quotes)


def _problems(matches: Sequence[LegMatch]) -> list[str]:
    problems = []
    for match in matches:
        legs = ", ".join(str(leg) for leg in match.fare_leg.legs)
        if not match.rules:
            problems.append(f"leg {legs}: no fare leg rule matches; the fare is unknown")
        elif match.chosen is None:
            problems.append(
                f"leg {legs}: matching products have no price for this rider "
                "category and fare medium; the fare is unknown"
            )
    return problems


def _unknown(legs: tuple[LegQuote, ...], problems: Sequence[str]) -> Quote:
    return Quote(False, None, None, legs, (), (), tuple(problems))


def _standalone_fares(index: FeedIndex, query: JourneyQuery) -> list[int]:
    """Each journey leg's fare had it been ridden alone: the weight its
    operator gets in a shared charge. Unpriceable or negative counts as 0."""
    fares = []
    for position in range(len(query.legs)):
        chosen = match_leg(index, single_fare_leg(index, query.legs, position), query).chosen
        fares.append(max(chosen.product.amount, 0) if chosen else 0)
    return fares


def _shares(
    index: FeedIndex, query: JourneyQuery, legs: Sequence[int], amount: int, weights: Sequence[int]
) -> tuple[Share, ...]:
    by_operator: dict[str, int] = defaultdict(int)
    for leg in legs:
        by_operator[index.operators[query.legs[leg].route_id]] += weights[leg]
    if not any(by_operator.values()):
        # No leg of the charge has a standalone fare: split evenly.
        by_operator = dict.fromkeys(by_operator, 1)
    return tuple(Share(operator, share) for operator, share in split(amount, by_operator).items())


def _charges(
    index: FeedIndex,
    query: JourneyQuery,
    matches: Sequence[LegMatch],
    charges: Sequence[FareCharge],
) -> tuple[QuoteCharge, ...]:
    weights = _standalone_fares(index, query)
    quoted = []
    for charge in charges:
        legs = tuple(
            leg for fare_leg in charge.fare_legs for leg in matches[fare_leg].fare_leg.legs
        )
        shares = _shares(index, query, legs, charge.amount, weights)
        quoted.append(QuoteCharge(charge.kind, legs, charge.fare_product_id, charge.amount, shares))
    return tuple(quoted)


def _apportionment(charges: Sequence[QuoteCharge]) -> tuple[Share, ...]:
    totals: dict[str, int] = defaultdict(int)
    for charge in charges:
        for share in charge.shares:
            totals[share.operator] += share.amount
    return tuple(Share(operator, amount) for operator, amount in sorted(totals.items()))


def quote(feed: FareFeed, query: JourneyQuery) -> Quote:
    """Prices ``query`` under ``feed``. Raises JourneyError if the journey
    names a route, stop, rider category or medium the feed lacks; a journey
    the tariff does not cover is an unknown fare, not an error."""
    index = build_index(feed)
    _check_names(index, query)
    matches = [match_leg(index, fare_leg, query) for fare_leg in fare_legs(index, query.legs)]
    legs = _leg_quotes(matches)
    problems = _problems(matches)
    if problems:
        return _unknown(legs, problems)
    charges = cost_journey(index, query, matches)
    currencies = sorted({charge.currency for charge in charges if charge.currency})
    if len(currencies) > 1:
        return _unknown(legs, [f"charges are in several currencies ({', '.join(currencies)})"])
    chosen = matches[0].chosen
    currency = currencies[0] if currencies else (chosen.product.currency if chosen else None)
    quoted = _charges(index, query, matches, charges)
    total = sum(charge.amount for charge in quoted)
    return Quote(True, currency, total, legs, quoted, _apportionment(quoted), ())


def _amount(minor: int, currency: str | None) -> str:
    return format_minor(minor, currency) if currency else str(minor)


def quote_json(result: Quote) -> dict[str, object]:
    """The documented JSON form of a quote (docs.md): amounts as exact
    decimal strings in the currency's major unit."""
    currency = result.currency
    return {
        "fare_known": result.fare_known,
        "total": None if result.total is None else _amount(result.total, currency),
        "currency": currency,
        "legs": [
            leg._asdict() | {"matched_fare_product_ids": list(leg.matched_fare_product_ids)}
            for leg in result.legs
        ],
        "charges": [
            {
                "kind": str(charge.kind),
                "legs": list(charge.legs),
                "fare_product_id": charge.fare_product_id,
                "amount": _amount(charge.amount, currency),
                "shares": [
                    {"operator": s.operator, "amount": _amount(s.amount, currency)}
                    for s in charge.shares
                ],
            }
            for charge in result.charges
        ],
        "apportionment": [
            {"operator": s.operator, "amount": _amount(s.amount, currency)}
            for s in result.apportionment
        ],
        "problems": list(result.problems),
    }
