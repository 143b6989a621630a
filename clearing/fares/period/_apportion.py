"""Splitting a charge among the operators whose trips it covers, by the
tariff's rule for its kind (docs.md, "Apportionment"), with the GTFS
engine's largest-remainder ``split``: shares always sum exactly to the
charge and carry its sign."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from clearing.fares.gtfs import split
from clearing.fares.period._journeys import PricedTrip
from clearing.fares.period._values import ChargeKind, Share


def _weight(trip: PricedTrip, rule: str) -> int:
    if rule == "distance":
        return trip.distance_m or 0
    if rule == "standalone":
        return max(trip.fare or 0, 0)
    return 1


def weights_for(
    kind: ChargeKind, trips: Sequence[PricedTrip], rules: Mapping[str, str]
) -> dict[str, int]:
    """Each operator's weight in a charge of ``kind`` over ``trips``. If all
    weigh nothing (no fares, no distances) the operators share evenly."""
    rule = rules.get(kind.value, rules["default"])
    weights: dict[str, int] = {}
    for trip in trips:
        weights[trip.operator_id] = weights.get(trip.operator_id, 0) + _weight(trip, rule)
    if not any(weights.values()):
        return dict.fromkeys(weights, 1)
    return weights


def shares(amount: int, weights: Mapping[str, int]) -> tuple[Share, ...]:
    """``amount`` split by ``weights``; operators without a positive weight
    get no share line."""
    return (
        tuple(Share(operator, part) for operator, part in split(amount, weights).items() if part)
        if amount
        else ()
    )
