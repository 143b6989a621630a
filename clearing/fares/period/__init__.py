"""Period pricing: a rider's charges for a capping period as a pure function
of (their taps in the period, the tariff, their rider category, the
horizon), and the per-operator adjustments between two pricings
(see docs.md in this package).

``load_tariff`` reads a GTFS-Fares v2 feed plus farebridge.toml;
``price_period`` prices; ``diff_charges`` says what to post.
"""

from clearing.fares.period._errors import TariffError
from clearing.fares.period._price import charge_id, diff_charges, price_period, service_day
from clearing.fares.period._tariff import Tariff, load_tariff
from clearing.fares.period._values import (
    Adjustment,
    Charge,
    ChargeKind,
    PeriodCharges,
    RiderTap,
    Share,
    UnknownFare,
)

__all__ = [
    "Adjustment",
    "Charge",
    "ChargeKind",
    "PeriodCharges",
    "RiderTap",
    "Share",
    "Tariff",
    "TariffError",
    "UnknownFare",
    "charge_id",
    "diff_charges",
    "load_tariff",
    "price_period",
    "service_day",
]
