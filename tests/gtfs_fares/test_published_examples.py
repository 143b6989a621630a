"""gtfs.org's published Fares v2 examples, quoted as a rider would see them.
Each feed's README.md cites the page and states what was added to make the
example a complete feed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

TUESDAY = "2025-06-24"
FRIDAY = "2025-06-27"
THURSDAY = "2025-06-26"
SATURDAY = "2025-06-28"

BUS, SKYTRAIN = "10232", "13686"


def ride(route: str, src: str | None, dst: str | None, dep: str, arr: str) -> dict[str, Any]:
    return {
        "route_id": route,
        "from_stop_id": src,
        "to_stop_id": dst,
        "departure": dep,
        "arrival": arr,
    }


# --- Translink: zones, rule_priority, timeframes (time-based-fares page) ---


@pytest.mark.parametrize(
    ("day", "departure", "total", "product"),
    [
        (TUESDAY, "08:05:00", "4.65", "2_zone_fare"),  # weekday daytime: zone fare
        (TUESDAY, "19:00:00", "3.20", "1_zone_fare"),  # weekday evening: flat, priority 1
        (TUESDAY, "02:59:59", "3.20", "1_zone_fare"),  # evening runs to 03:00, exclusive
        (TUESDAY, "03:00:00", "4.65", "2_zone_fare"),  # 03:00:00 is daytime again
        (SATURDAY, "12:00:00", "3.20", "1_zone_fare"),  # weekend
    ],
)
def test_translink_zone_fare_depends_on_departure_timeframe(
    price: Any, day: str, departure: str, total: str, product: str
) -> None:
    result = price("translink", day, ride(SKYTRAIN, "8039", "8066", departure, "23:59:59"))

    assert (result["total"], result["currency"]) == (total, "CAD")
    assert result["legs"][0]["fare_product_id"] == product


def test_times_past_midnight_fall_on_the_next_local_day(price: Any) -> None:
    # 25:10 on Thursday's service day is Friday 01:10: weekday evening.
    thursday_night = price(
        "translink", THURSDAY, ride(SKYTRAIN, "8039", "8066", "25:10:00", "25:40:00")
    )
    # 25:10 on Friday's service day is Saturday 01:10: the weekend timeframe.
    friday_night = price(
        "translink", FRIDAY, ride(SKYTRAIN, "8039", "8066", "25:10:00", "25:40:00")
    )
    # Without the rollover, 25:10 would not be in any timeframe and the zone fare would apply.
    assert thursday_night["total"] == friday_night["total"] == "3.20"


def test_sea_island_surcharge_takes_priority_over_zone_2(price: Any) -> None:
    result = price("translink", TUESDAY, ride(SKYTRAIN, "99901", "8066", "10:00:00", "10:20:00"))

    assert result["total"] == "8.20"
    assert result["legs"][0]["matched_fare_product_ids"] == ["sea_island_1_zone_fare"]


def test_travel_within_sea_island_is_free_at_all_times(price: Any) -> None:
    for departure in ("10:00:00", "20:00:00"):
        result = price(
            "translink", TUESDAY, ride(SKYTRAIN, "99901", "99902", departure, "23:00:00")
        )
        assert (result["fare_known"], result["total"]) == (True, "0.00")


def test_evening_sea_island_departure_costs_the_one_zone_surcharge(price: Any) -> None:
    result = price("translink", TUESDAY, ride(SKYTRAIN, "99901", "8039", "20:00:00", "20:30:00"))

    assert result["total"] == "8.20"  # not the daytime 9.65 two-zone surcharge


def test_three_zone_trip(price: Any) -> None:
    result = price(
        "translink", TUESDAY, ride(SKYTRAIN, "8039", "surrey_central", "09:00:00", "09:50:00")
    )

    assert result["total"] == "6.35"


def test_concession_riders_pay_their_own_price(price: Any) -> None:
    bus = ride(BUS, "bus_stop_1", "bus_stop_1", "09:00:00", "09:20:00")

    assert price("translink", TUESDAY, bus)["total"] == "3.20"  # default category: adult
    assert price("translink", TUESDAY, bus, rider="adult")["total"] == "3.20"
    assert price("translink", TUESDAY, bus, rider="concession")["total"] == "2.15"


def test_bus_then_two_zone_skytrain_within_90_minutes_pays_the_addfare(price: Any) -> None:
    result = price(
        "translink",
        TUESDAY,
        ride(BUS, "bus_stop_1", "8039", "08:00:00", "08:25:00"),
        ride(SKYTRAIN, "8039", "8066", "08:35:00", "09:00:00"),
    )

    assert result["total"] == "4.65"  # 3.20 bus + 1.45 upgrade (fare-transfers page)
    assert [(c["kind"], c["fare_product_id"], c["amount"]) for c in result["charges"]] == [
        ("leg", "bus_flat_fare", "3.20"),
        ("transfer", "1_zone_to_2_zone_upgrade", "1.45"),
    ]


def test_apportionment_splits_the_addfare_by_standalone_fares(price: Any) -> None:
    result = price(
        "translink",
        TUESDAY,
        ride(BUS, "bus_stop_1", "8039", "08:00:00", "08:25:00"),
        ride(SKYTRAIN, "8039", "8066", "08:35:00", "09:00:00"),
    )

    # The 1.45 upgrade is split 320 : 465 between bus (CMBC) and SkyTrain (BCRTC):
    # 59.1 and 85.9 cents, the leftover cent to the larger remainder.
    assert result["charges"][1]["shares"] == [
        {"operator": "BCRTC", "amount": "0.86"},
        {"operator": "CMBC", "amount": "0.59"},
    ]
    assert result["apportionment"] == [
        {"operator": "BCRTC", "amount": "0.86"},
        {"operator": "CMBC", "amount": "3.79"},
    ]


def test_transfer_after_90_minutes_pays_both_fares(price: Any) -> None:
    result = price(
        "translink",
        TUESDAY,
        ride(BUS, "bus_stop_1", "8039", "08:00:00", "08:25:00"),
        ride(SKYTRAIN, "8039", "8066", "09:30:01", "09:55:00"),
    )

    assert result["total"] == "7.85"
    assert [c["kind"] for c in result["charges"]] == ["leg", "leg"]


# --- MTA Maryland: several products per leg; unlimited 90-minute transfers ---


def test_mta_single_leg_offers_every_product_and_quotes_the_one_way_fare(price: Any) -> None:
    result = price(
        "mta_maryland", TUESDAY, ride("citylink_blue", None, None, "08:00:00", "08:30:00")
    )

    assert result["total"] == "2.00"
    assert result["legs"][0]["matched_fare_product_ids"] == [
        "core_local_1_day_fare",
        "core_local_31_day_fare",
        "core_local_7_day_fare",
        "core_local_oneway_fare",
    ]


def test_mta_transfers_are_free_and_unlimited_within_90_minutes(price: Any) -> None:
    result = price(
        "mta_maryland",
        TUESDAY,
        ride("citylink_blue", None, None, "08:00:00", "08:20:00"),
        ride("metro_subway", None, None, "08:30:00", "08:50:00"),
        ride("citylink_blue", None, None, "09:00:00", "09:20:00"),
        ride("metro_subway", None, None, "09:30:00", "09:45:00"),
    )

    assert result["total"] == "2.00"
    assert [c["kind"] for c in result["charges"]] == ["leg", "transfer", "transfer", "transfer"]


def test_mta_90_minutes_count_from_the_first_departure(price: Any) -> None:
    result = price(
        "mta_maryland",
        TUESDAY,
        ride("citylink_blue", None, None, "08:00:00", "08:20:00"),
        ride("metro_subway", None, None, "08:30:00", "08:50:00"),
        ride("citylink_blue", None, None, "09:30:01", "09:50:00"),
    )

    assert result["total"] == "4.00"


# --- BART: origin-destination areas ---


@pytest.mark.parametrize(("destination", "total"), [("GLEN", "4.75"), ("OAKL", "9.45")])
def test_bart_fare_by_origin_and_destination(price: Any, destination: str, total: str) -> None:
    assert (
        price("bart", TUESDAY, ride("BA:yellow", "ASHB", destination, "08:00:00", "08:40:00"))[
            "total"
        ]
        == total
    )


def test_bart_pair_without_a_rule_has_an_unknown_fare(price: Any) -> None:
    result = price("bart", TUESDAY, ride("BA:yellow", "GLEN", "OAKL", "08:00:00", "08:40:00"))

    assert (result["fare_known"], result["total"], result["charges"]) == (False, None, [])
    assert "no fare leg rule matches" in result["problems"][0]


# --- Fare media ---


@pytest.mark.parametrize(
    ("medium", "total"), [("cash", "3.00"), ("clipper", "2.50"), (None, "2.50")]
)
def test_muni_price_depends_on_the_fare_medium(price: Any, medium: str | None, total: str) -> None:
    assert (
        price(
            "muni_fare_media", TUESDAY, ride("J", None, None, "08:00:00", "08:20:00"), media=medium
        )["total"]
        == total
    )


def test_clean_air_express_contactless_is_a_dollar_cheaper(price: Any) -> None:
    leg = ride("lompoc_sb", None, None, "06:00:00", "07:10:00")

    assert price("clean_air_express", TUESDAY, leg, media="tap_to_ride")["total"] == "6.00"


def test_clean_air_express_unknown_medium_row_serves_other_riders(
    price: Any, write_feed: Any
) -> None:
    # A medium with no row of its own pays the row whose medium is unknown.
    source = Path(__file__).parent / "feeds" / "clean_air_express"
    files = {p.name: p.read_text() for p in source.glob("*.txt")}
    files["fare_media.txt"] += "cash,Cash,0\n"
    leg = ride("lompoc_sb", None, None, "06:00:00", "07:10:00")

    assert price(write_feed(files), TUESDAY, leg, media="cash")["total"] == "7.00"


# --- WMATA and Metro-North: timeframes ---


@pytest.mark.parametrize(
    ("day", "departure", "total"),
    [
        ("2022-07-12", "07:30:00", "5.00"),  # the page: 7:30 AM pays the peak fare
        ("2022-07-12", "11:30:00", "3.00"),  # the page: 11:30 AM pays off-peak
        ("2022-07-12", "09:29:59", "5.00"),
        ("2022-07-12", "09:30:00", "3.00"),  # peak ends at 9:30, exclusive
        ("2022-07-12", "22:00:00", "2.00"),  # late night
        ("2022-07-16", "11:30:00", "2.00"),  # Saturday
    ],
)
def test_wmata_fare_by_departure_time(price: Any, day: str, departure: str, total: str) -> None:
    assert price("wmata", day, ride("RED", None, None, departure, "23:59:00"))["total"] == total


def test_wmata_outside_the_calendar_has_an_unknown_fare(price: Any) -> None:
    # Timeframes run on their service_id's days; 2023 is past calendar.txt's end.
    assert (
        price("wmata", "2023-07-11", ride("RED", None, None, "07:30:00", "08:00:00"))["fare_known"]
        is False
    )


@pytest.mark.parametrize(("departure", "total"), [("18:45:00", "20.00"), ("21:04:00", "15.00")])
def test_metro_north_outbound_peak_and_off_peak(price: Any, departure: str, total: str) -> None:
    result = price(
        "metro_north",
        "2023-06-14",
        ride("669", "ITO2383", "ITO1897", departure, "23:30:00"),
        media="paper",
    )

    assert result["total"] == total


# --- SEPTA: fare leg join rules ---


def test_septa_interchange_at_city_hall_is_one_fare_leg(price: Any) -> None:
    result = price(
        "septa_join",
        TUESDAY,
        ride("BSL", "olney", "32141", "08:00:00", "08:20:00"),
        ride("MFL", "32175", "34th_st", "08:25:00", "08:35:00"),
    )

    assert result["total"] == "2.00"
    assert [leg["fare_leg"] for leg in result["legs"]] == [0, 0]
    assert result["charges"][0]["legs"] == [0, 1]


def test_septa_legs_that_do_not_meet_at_a_join_stop_pay_twice(price: Any) -> None:
    result = price(
        "septa_join",
        TUESDAY,
        ride("BSL", "olney", "32141", "08:00:00", "08:20:00"),
        ride("MFL", "34th_st", "32175", "08:40:00", "08:50:00"),
    )

    assert result["total"] == "4.00"


# --- ORCA: A + AB transfers across agencies ---


def test_orca_consecutive_transfers_cost_the_fare_differences(price: Any) -> None:
    result = price(
        "orca",
        TUESDAY,
        ride("kcm_7", None, None, "08:00:00", "08:15:00"),
        ride("ct_201", None, None, "08:20:00", "08:40:00"),
        ride("st_1line", None, None, "08:45:00", "09:00:00"),
    )

    assert result["total"] == "3.25"  # 2.75 + 0 + 0.50, the page's first combination
    assert sum(int(s["amount"].replace(".", "")) for s in result["apportionment"]) == 325
