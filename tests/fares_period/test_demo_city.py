"""The demo city: zone-fare metro with tap-off, flat buses and ferries with
a 60-minute hopper, a daily cap, concessions; and the pricer's contract:
open and incomplete trips, unknown fares, charge ids, adjustments, errors."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from clearing.fares.period import (
    ChargeKind,
    PeriodCharges,
    Tariff,
    TariffError,
    charge_id,
    diff_charges,
    load_tariff,
)

from .conftest import CONFIGS, Price, Script

Total = Callable[[PeriodCharges], int]
DAY = "2025-06-24"

METRO_Z12 = """
    08:00 on  metro metro-co central
    08:20 off metro metro-co airport
"""


def test_metro_zone_fares(demo: Tariff, taps: Script, price: Price) -> None:
    (charge,) = price(demo, taps(demo, DAY, METRO_Z12)).charges
    assert (charge.kind, charge.amount.minor_units, charge.tap_ids) == (
        ChargeKind.LEG,
        300,
        ("t1", "t2"),
    )
    assert charge.charge_id == charge_id(ChargeKind.LEG, ("t2", "t1"))


def test_hopper_bus_to_ferry_is_split_by_standalone_fares(
    demo: Tariff, taps: Script, price: Price
) -> None:
    day = taps(
        demo,
        DAY,
        """
        09:00 on bus   bus-co   bus-central  B10
        09:40 on ferry ferry-co pier-harbour F1
    """,
    )
    (charge,) = price(demo, day).charges
    assert charge.amount.minor_units == 250
    assert [(s.operator_id, s.minor_units) for s in charge.shares] == [
        ("bus-co", 94),
        ("ferry-co", 156),
    ]


def test_daily_cap(demo: Tariff, taps: Script, price: Price, total: Total) -> None:
    log = METRO_Z12 + METRO_Z12.replace("08:", "12:") + METRO_Z12.replace("08:", "18:")
    assert total(price(demo, taps(demo, DAY, log))) == 700


def test_an_open_trip_pays_the_tap_on_fare_until_it_is_incomplete(
    demo: Tariff, taps: Script, price: Price, total: Total
) -> None:
    on, off = taps(demo, DAY, METRO_Z12)
    assert total(price(demo, [on], horizon=on.at + timedelta(minutes=30))) == 200
    incomplete = price(demo, [on], horizon=on.at + timedelta(hours=2))
    assert [c.kind for c in incomplete.charges] == [ChargeKind.INCOMPLETE]
    assert total(incomplete) == 500
    assert total(price(demo, [on, off], horizon=on.at + timedelta(days=1))) == 300


def test_a_tap_off_without_tap_on_is_incomplete(demo: Tariff, taps: Script, price: Price) -> None:
    _, off = taps(demo, DAY, METRO_Z12)
    assert [c.kind for c in price(demo, [off]).charges] == [ChargeKind.INCOMPLETE]


def test_incomplete_fares_do_not_count_towards_the_cap(
    demo: Tariff, taps: Script, price: Price, total: Total
) -> None:
    log = "06:00 on metro metro-co central\n" + METRO_Z12 + METRO_Z12.replace("08:", "12:")
    assert total(price(demo, taps(demo, DAY, log))) == 500 + 600


def test_concessions(demo: Tariff, taps: Script, price: Price, total: Total) -> None:
    day = taps(demo, DAY, METRO_Z12)
    assert total(price(demo, day, "child")) == 150
    assert total(price(demo, day, "senior")) == 100


def test_a_trip_no_rule_prices_is_reported(demo: Tariff, taps: Script, price: Price) -> None:
    charges = price(demo, taps(demo, DAY, "09:00 on tram tram-co central"))
    assert charges.charges == ()
    assert [u.tap_ids for u in charges.unknown] == [("t1",)]


def test_repricing_posts_nothing_and_a_late_tap_posts_the_difference(
    demo: Tariff, taps: Script, price: Price
) -> None:
    day = taps(demo, DAY, METRO_Z12 + "09:00 on bus bus-co bus-central B10")
    first = price(demo, day[:2])
    assert diff_charges(first, price(demo, list(reversed(day[:2])))) == []
    later = price(demo, day)
    (adjustment,) = diff_charges(first, later)
    assert (adjustment.operator_id, adjustment.amount_delta.minor_units) == ("bus-co", 150)


def test_the_service_day_starts_at_0400(demo: Tariff, taps: Script, price: Price) -> None:
    day = taps(demo, DAY, "03:59 on bus bus-co bus-central B10\n05:00 on bus bus-co bus-market B20")
    days = [str(c.service_day) for c in price(demo, day).charges]
    assert days == ["2025-06-23", "2025-06-24"]


def test_a_naive_horizon_is_refused(demo: Tariff, taps: Script, price: Price) -> None:
    with pytest.raises(ValueError, match="aware"):
        price(demo, [], horizon=taps(demo, DAY, METRO_Z12)[0].at.replace(tzinfo=None))


def _copy(tmp_path: Path, name: str) -> Path:
    target = tmp_path / name
    target.mkdir()
    for source in (CONFIGS / name).iterdir():
        (target / source.name).write_bytes(source.read_bytes())
    return target


def test_tariff_errors_name_the_field(tmp_path: Path) -> None:
    folder = _copy(tmp_path, "demo-city")
    toml = folder / "farebridge.toml"
    text = toml.read_text().replace('amount = "7.00"', 'amount = "7.001"')
    toml.write_text(text.replace("percent_off = 50", "percent_off = 150"))
    with pytest.raises(TariffError) as raised:
        load_tariff(folder)
    assert [issue.field for issue in raised.value.issues] == [
        "caps[0].amount",
        "caps[0].amount",
        "concessions[0].percent_off",
    ]


def test_a_tariff_needs_its_extension_file(tmp_path: Path) -> None:
    folder = _copy(tmp_path, "demo-city")
    (folder / "farebridge.toml").unlink()
    with pytest.raises(TariffError, match=r"farebridge\.toml"):
        load_tariff(folder)
