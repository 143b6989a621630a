"""Splitting one amount among parties in proportion to weights, exactly.

Largest remainder (Hamilton's method): everyone first gets the floor of
their exact share; the minor units left over go one each to the largest
fractional remainders, ties to the smaller key. The shares always sum to
the amount, each is within one minor unit of its exact proportion, and the
result depends only on the inputs, never on dict order.
"""

from __future__ import annotations

from collections.abc import Mapping


def split(amount_minor: int, weights: Mapping[str, int]) -> dict[str, int]:
    """Shares of ``amount_minor`` for each key of ``weights``.

    Weights must be non-negative with at least one positive. A negative
    amount (a refund, a transfer discount) is split as its magnitude and
    every share carries its sign, so no share ever has the opposite sign of
    the amount.
    """
    if not weights or any(weight < 0 for weight in weights.values()):
        raise ValueError("weights must be non-negative and not empty")
    total = sum(weights.values())
    if total == 0:
        raise ValueError("at least one weight must be positive")
    sign, magnitude = (-1, -amount_minor) if amount_minor < 0 else (1, amount_minor)
    floors = {key: magnitude * weight // total for key, weight in weights.items()}
    remainders = {key: magnitude * weight % total for key, weight in weights.items()}
    left = magnitude - sum(floors.values())
    for key in sorted(weights, key=lambda key: (-remainders[key], key))[:left]:
        floors[key] += 1
    return {key: sign * share for key, share in sorted(floors.items())}
