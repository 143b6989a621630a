"""Pricing: turns taps into charges. The pricing functions are pure; the
store functions beside them only load and save fare rules."""

from clearing.fares._flat import (
    Charge,
    FlatFares,
    PricingContext,
    Unpriced,
    UnpricedReason,
    load_flat_fares,
    price_flat,
    set_flat_fare,
)

__all__ = [
    "Charge",
    "FlatFares",
    "PricingContext",
    "Unpriced",
    "UnpricedReason",
    "load_flat_fares",
    "price_flat",
    "set_flat_fare",
]
