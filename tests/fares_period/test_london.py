"""A London-style zone tariff with TfL's pay as you go fares and caps from
2 March 2025 (clearing/fares/configs/london-zones/README.md cites them)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from clearing.fares.period import ChargeKind, PeriodCharges, Tariff, diff_charges

from .conftest import Price, Script

Total = Callable[[PeriodCharges], int]

# 2025-06-24 is a Tuesday; 2025-06-23 to 2025-06-29 is one Monday-to-Sunday week.
TUESDAY = "2025-06-24"


def _tube(clock: str, back: str, here: str = "oxford-circus", there: str = "camden-town") -> str:
    return f"""
        {clock} on  metro lu {here}
        {back}  off metro lu {there}
    """


def test_zone_1_peak_and_off_peak_fares(
    london: Tariff, taps: Script, price: Price, total: Total
) -> None:
    def fare(day: str, clock: str, back: str) -> int:
        log = _tube(clock, back, "oxford-circus", "bank")
        return total(price(london, taps(london, day, log)))

    assert fare(TUESDAY, "08:00", "08:20") == 290
    assert fare(TUESDAY, "11:00", "11:20") == 280
    assert fare("2025-06-28", "08:00", "08:20") == 280  # Saturday: no peak


def test_zones_1_2_peak_fare(london: Tariff, taps: Script, price: Price, total: Total) -> None:
    assert total(price(london, taps(london, TUESDAY, _tube("08:00", "08:25")))) == 350


def test_hopper_two_buses_within_an_hour_pay_one_fare(
    london: Tariff, taps: Script, price: Price
) -> None:
    day = taps(
        london,
        TUESDAY,
        """
        10:00 on bus arriva-london   bus-oxford-st bus73
        10:50 on bus go-ahead-london bus-angel     bus38
        11:05 on bus arriva-london   bus-angel     bus73
    """,
    )
    hopper, single = price(london, day).charges
    assert (hopper.kind, hopper.amount.minor_units, hopper.tap_ids) == (
        ChargeKind.TRANSFER,
        175,
        ("t1", "t2"),
    )
    assert [s.minor_units for s in hopper.shares] == [88, 87]
    assert (single.kind, single.amount.minor_units) == (ChargeKind.LEG, 175)


def test_bus_daily_cap(london: Tariff, taps: Script, price: Price, total: Total) -> None:
    day = taps(
        london,
        TUESDAY,
        """
        07:00 on bus arriva-london bus-oxford-st bus73
        09:00 on bus arriva-london bus-angel     bus73
        12:00 on bus arriva-london bus-oxford-st bus73
        18:00 on bus arriva-london bus-angel     bus73
    """,
    )
    charges = price(london, day)
    assert total(charges) == 525
    rebate = charges.charges[-1]
    assert (rebate.kind, rebate.amount.minor_units) == (ChargeKind.CAP_REBATE, -175)


def test_zones_1_2_daily_cap_covers_tube_and_bus(
    london: Tariff, taps: Script, price: Price, total: Total
) -> None:
    log = _tube("07:00", "07:20") + _tube("08:00", "08:20") + _tube("17:00", "17:20")
    log += "20:00 on bus arriva-london bus-angel bus73"
    assert total(price(london, taps(london, TUESDAY, log))) == 890


def test_the_day_runs_from_0430(london: Tariff, taps: Script, price: Price, total: Total) -> None:
    log = _tube("07:00", "07:20") + _tube("17:00", "17:20") + _tube("22:00", "22:20")
    log += "2025-06-25 " + _tube("03:00", "03:20").strip().replace("\n", "\n2025-06-25 ")
    log += "\n2025-06-25 09:00 on metro lu oxford-circus\n2025-06-25 09:20 off metro lu bank"
    charges = price(london, taps(london, TUESDAY, log))
    by_day: dict[str, int] = {}
    for charge in charges.charges:
        by_day[str(charge.service_day)] = by_day.get(str(charge.service_day), 0) + (
            charge.amount.minor_units
        )
    # 3.50 + 3.50 + 2.90 + 2.90 (03:00 Wednesday is still Tuesday) capped at 8.90.
    assert by_day == {TUESDAY: 890, "2025-06-25": 290}


def test_monday_to_sunday_weekly_cap(
    london: Tariff, taps: Script, price: Price, total: Total
) -> None:
    log = ""
    for day in range(23, 30):  # Monday 23 to Sunday 29 June 2025
        for clock in ("07:00", "08:00", "17:00"):
            back = clock[:3] + "20"
            log += f"2025-06-{day} {clock} on metro lu oxford-circus\n"
            log += f"2025-06-{day} {back} off metro lu camden-town\n"
    charges = price(london, taps(london, "2025-06-23", log))
    # Six days at the 8.90 daily cap would be 53.40; the week stops at 44.70.
    assert total(charges) == 4470


def test_incomplete_journey_pays_the_maximum_fare_outside_caps(
    london: Tariff, taps: Script, price: Price, total: Total
) -> None:
    log = _tube("07:00", "07:20") + _tube("08:00", "08:20") + _tube("17:00", "17:20")
    day = taps(london, TUESDAY, log + "19:00 on metro lu bank")
    charges = price(london, day)
    incomplete = charges.charges[-1]
    assert (incomplete.kind, incomplete.amount.minor_units) == (ChargeKind.INCOMPLETE, 940)
    assert total(charges) == 890 + 940


def test_a_late_tap_out_corrects_the_incomplete_journey(
    london: Tariff, taps: Script, price: Price
) -> None:
    day = taps(london, TUESDAY, _tube("11:00", "11:20", "bank", "camden-town"))
    posted = price(london, day[:1], horizon=day[0].at + timedelta(hours=3))
    corrected = price(london, day, horizon=day[0].at + timedelta(hours=5))
    adjustments = diff_charges(posted, corrected)
    assert sum(a.amount_delta.minor_units for a in adjustments) == 290 - 940


def test_a_journey_outside_the_shipped_subset_is_unknown_not_free(
    london: Tariff, taps: Script, price: Price
) -> None:
    charges = price(
        london, taps(london, TUESDAY, _tube("11:00", "11:20", "camden-town", "brixton"))
    )
    assert charges.charges == ()
    assert [u.tap_ids for u in charges.unknown] == [("t1", "t2")]


def test_children_travel_free(london: Tariff, taps: Script, price: Price, total: Total) -> None:
    day = taps(london, TUESDAY, _tube("08:00", "08:25"))
    assert total(price(london, day, "child")) == 0
