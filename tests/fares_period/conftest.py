"""Fixtures for the period pricer's tests.

A rider's day reads like a tap log, one tap per line, in local time:

    08:05 on  metro metro-co central
    08:31 off metro metro-co airport
    09:00 on  bus   bus-co   bus-central B10

Optional trailing fields: a route id and ``km=12.4`` (distance measured by
the vehicle, on a tap-off). A line may start with a date (``2025-06-25``)
to move to another day. Tap ids are ``t1``, ``t2``, … in line order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time
from pathlib import Path

import pytest

import clearing.fares
from clearing.fares.period import PeriodCharges, RiderTap, Tariff, load_tariff, price_period
from clearing.values import Direction, Mode

CONFIGS = Path(clearing.fares.__file__).parent / "configs"
FAR_FUTURE = datetime(2100, 1, 1, tzinfo=UTC)

Script = Callable[[Tariff, str, str], list[RiderTap]]
Price = Callable[..., PeriodCharges]


def _tap(tariff: Tariff, day: date, number: int, fields: Sequence[str]) -> RiderTap:
    clock, direction, mode, operator, stop, *rest = fields
    local = datetime.combine(day, time.fromisoformat(clock), tariff.zone)
    route = next((f for f in rest if not f.startswith("km=")), None)
    km = next((f.removeprefix("km=") for f in rest if f.startswith("km=")), None)
    metres = None if km is None else round(float(km) * 1000)
    return RiderTap(
        f"t{number}",
        local.astimezone(UTC),
        Direction(direction),
        operator,
        Mode(mode),
        stop,
        route,
        metres,
    )


def script(tariff: Tariff, day: str, text: str) -> list[RiderTap]:
    """The taps of a tap log (see the module docstring)."""
    current = date.fromisoformat(day)
    taps: list[RiderTap] = []
    for line in text.strip().splitlines():
        fields = line.split()
        if fields and "-" in fields[0]:
            current, fields = date.fromisoformat(fields[0]), fields[1:]
        if fields:
            taps.append(_tap(tariff, current, len(taps) + 1, fields))
    return taps


@pytest.fixture(scope="session")
def demo() -> Tariff:
    return load_tariff(CONFIGS / "demo-city")


@pytest.fixture(scope="session")
def seoul() -> Tariff:
    return load_tariff(CONFIGS / "seoul-2025")


@pytest.fixture(scope="session")
def london() -> Tariff:
    return load_tariff(CONFIGS / "london-zones")


@pytest.fixture
def taps() -> Script:
    return script


def _price(
    tariff: Tariff,
    taps: Sequence[RiderTap],
    rider_category: str | None = None,
    horizon: datetime = FAR_FUTURE,
) -> PeriodCharges:
    return price_period(taps, tariff, rider_category, horizon)


@pytest.fixture
def price() -> Price:
    """``price(tariff, taps, rider_category=None, horizon=FAR_FUTURE)``."""
    return _price


def minor(charges: PeriodCharges) -> int:
    return charges.total.minor_units


@pytest.fixture
def total() -> Callable[[PeriodCharges], int]:
    return minor
