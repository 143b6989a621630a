"""Leg matching and transfer costing on small purpose-built feeds: the two
meanings of an empty field, unknown fares, transfer types, counts and
duration limits."""

from __future__ import annotations

from typing import Any

import pytest

from clearing.fares.gtfs import JourneyError, load_feed, parse_journey, quote

DAY = "2025-06-24"

BASE = {
    "agency.txt": "agency_id,agency_name,agency_url,agency_timezone\n"
    "bus_co,Bus Co,https://bus.example,Asia/Seoul\nrail_co,Rail Co,https://rail.example,Asia/Seoul",
    "routes.txt": "route_id,agency_id,route_type,network_id\n"
    "b1,bus_co,3,bus\nr1,rail_co,1,rail\nf1,bus_co,4,ferry",
    "stops.txt": "stop_id\nA\nB\nC",
    "areas.txt": "area_id\nzone_a\nzone_b",
    "stop_areas.txt": "area_id,stop_id\nzone_a,A\nzone_b,B",
}


def ride(
    route: str, src: str = "C", dst: str = "C", dep: str = "08:00:00", arr: str = "08:30:00"
) -> dict[str, Any]:
    return {
        "route_id": route,
        "from_stop_id": src,
        "to_stop_id": dst,
        "departure": dep,
        "arrival": arr,
    }


# --- empty fields: inverse semantics without rule_priority, "any" with it ---

PRODUCTS = "fare_product_id,amount,currency\nfrom_a,1000,KRW\nelsewhere,1500,KRW"
INVERSE_RULES = "network_id,from_area_id,fare_product_id\nbus,zone_a,from_a\nbus,,elsewhere"


def test_without_rule_priority_an_empty_area_excludes_listed_areas(
    price: Any, write_feed: Any
) -> None:
    feed = write_feed(BASE | {"fare_products.txt": PRODUCTS, "fare_leg_rules.txt": INVERSE_RULES})

    from_a = price(feed, DAY, ride("b1", "A"))
    from_b = price(feed, DAY, ride("b1", "B"))
    from_no_area = price(feed, DAY, ride("b1", "C"))

    assert from_a["legs"][0]["matched_fare_product_ids"] == ["from_a"]
    assert (from_a["total"], from_a["currency"]) == ("1000", "KRW")
    assert from_b["legs"][0]["matched_fare_product_ids"] == ["elsewhere"]
    assert from_no_area["total"] == "1500"


def test_with_rule_priority_an_empty_area_matches_any_area(price: Any, write_feed: Any) -> None:
    rules = (
        "network_id,from_area_id,fare_product_id,rule_priority\nbus,zone_a,from_a,\nbus,,elsewhere,"
    )
    feed = write_feed(BASE | {"fare_products.txt": PRODUCTS, "fare_leg_rules.txt": rules})

    from_a = price(feed, DAY, ride("b1", "A"))

    assert from_a["legs"][0]["matched_fare_product_ids"] == ["elsewhere", "from_a"]
    assert from_a["total"] == "1000"  # the cheaper product is quoted


def test_higher_rule_priority_wins(price: Any, write_feed: Any) -> None:
    rules = (
        "network_id,from_area_id,fare_product_id,rule_priority\n"
        "bus,zone_a,from_a,\nbus,,elsewhere,1"
    )
    feed = write_feed(BASE | {"fare_products.txt": PRODUCTS, "fare_leg_rules.txt": rules})

    from_a = price(feed, DAY, ride("b1", "A"))

    assert from_a["legs"][0]["matched_fare_product_ids"] == ["elsewhere"]
    assert from_a["total"] == "1500"


def test_without_rule_priority_an_empty_network_excludes_listed_networks(
    price: Any, write_feed: Any
) -> None:
    rules = "network_id,fare_product_id\nbus,from_a\n,elsewhere"
    feed = write_feed(BASE | {"fare_products.txt": PRODUCTS, "fare_leg_rules.txt": rules})

    assert price(feed, DAY, ride("b1"))["total"] == "1000"
    assert price(feed, DAY, ride("r1"))["total"] == "1500"


def test_a_leg_no_rule_matches_has_an_unknown_fare_not_zero(price: Any, write_feed: Any) -> None:
    rules = "network_id,fare_product_id\nbus,from_a"
    feed = write_feed(BASE | {"fare_products.txt": PRODUCTS, "fare_leg_rules.txt": rules})

    result = price(feed, DAY, ride("b1"), ride("r1", dep="09:00:00", arr="09:10:00"))

    assert (result["fare_known"], result["total"], result["currency"]) == (False, None, None)
    assert result["charges"] == []
    assert result["apportionment"] == []
    assert result["legs"][1]["matched_fare_product_ids"] == []
    assert result["problems"] == ["leg 1: no fare leg rule matches; the fare is unknown"]


def test_a_product_without_a_price_for_the_rider_is_an_unknown_fare(
    price: Any, write_feed: Any
) -> None:
    feed = write_feed(
        BASE
        | {
            "rider_categories.txt": "rider_category_id,rider_category_name,"
            "is_default_fare_category\nadult,Adult,1\nchild,Child,0",
            "fare_products.txt": "fare_product_id,amount,currency,rider_category_id\n"
            "adult_only,1000,KRW,adult",
            "fare_leg_rules.txt": "network_id,fare_product_id\nbus,adult_only",
        }
    )

    assert price(feed, DAY, ride("b1"))["total"] == "1000"
    assert price(feed, DAY, ride("b1"), rider="child")["fare_known"] is False


# --- transfers ---


def transfer_feed(write_feed: Any, rule: str, header: str = "") -> Any:
    header = header or (
        "from_leg_group_id,to_leg_group_id,transfer_count,duration_limit,"
        "duration_limit_type,fare_transfer_type,fare_product_id"
    )
    return write_feed(
        BASE
        | {
            "fare_products.txt": "fare_product_id,amount,currency\n"
            "bus_fare,2.00,USD\nrail_fare,3.00,USD\nxfer,0.50,USD\ncombo,4.00,USD",
            "fare_leg_rules.txt": "leg_group_id,network_id,fare_product_id\n"
            "bus,bus,bus_fare\nrail,rail,rail_fare",
            "fare_transfer_rules.txt": f"{header}\n{rule}",
        }
    )


BUS_THEN_RAIL = (
    ride("b1", dep="08:00:00", arr="08:20:00"),
    ride("r1", dep="08:30:00", arr="09:00:00"),
)


@pytest.mark.parametrize(
    ("transfer_type", "product", "total", "charges"),
    [
        ("0", "xfer", "2.50", [("leg", "bus_fare"), ("transfer", "xfer")]),
        ("1", "xfer", "5.50", [("leg", "bus_fare"), ("transfer", "xfer"), ("leg", "rail_fare")]),
        ("2", "combo", "4.00", [("transfer", "combo")]),
    ],
)
def test_fare_transfer_types(
    price: Any,
    write_feed: Any,
    transfer_type: str,
    product: str,
    total: str,
    charges: list[tuple[str, str]],
) -> None:
    feed = transfer_feed(write_feed, f"bus,rail,,,,{transfer_type},{product}")

    result = price(feed, DAY, *BUS_THEN_RAIL)

    assert result["total"] == total
    assert [(c["kind"], c["fare_product_id"]) for c in result["charges"]] == charges


def test_type_2_after_a_transfer_adds_only_the_transfer_product(
    price: Any, write_feed: Any
) -> None:
    # A > B under type 0 (A + AB), then B > C under type 2: S + BC.
    rules = "bus,rail,,,,0,xfer\nrail,bus,,,,2,combo"
    feed = transfer_feed(write_feed, rules)

    result = price(feed, DAY, *BUS_THEN_RAIL, ride("b1", dep="09:10:00", arr="09:20:00"))

    assert result["total"] == "6.50"  # 2.00 + 0.50 + 4.00


def test_a_transfer_rule_does_not_apply_in_reverse(price: Any, write_feed: Any) -> None:
    feed = transfer_feed(write_feed, "bus,rail,,,,0,xfer")

    result = price(
        feed,
        DAY,
        ride("r1", dep="08:00:00", arr="08:20:00"),
        ride("b1", dep="08:30:00", arr="09:00:00"),
    )

    assert result["total"] == "5.00"


@pytest.mark.parametrize(("count", "total"), [("1", "4.50"), ("2", "3.00"), ("-1", "3.50")])
def test_transfer_count_limits_consecutive_transfers(
    price: Any, write_feed: Any, count: str, total: str
) -> None:
    feed = transfer_feed(write_feed, f"bus,bus,{count},,,0,xfer")
    buses = [ride("b1", dep=f"0{8 + n}:00:00", arr=f"0{8 + n}:30:00") for n in range(4)]

    # Four buses: count 1 allows one transfer, then a new fare starts a new sub-journey.
    result = price(feed, DAY, *buses[:3]) if count != "-1" else price(feed, DAY, *buses)

    assert result["total"] == total


def test_the_smallest_sufficient_transfer_count_is_chosen(price: Any, write_feed: Any) -> None:
    feed = transfer_feed(write_feed, "bus,bus,1,,,0,\nbus,bus,-1,,,0,xfer")
    buses = [ride("b1", dep=f"0{8 + n}:00:00", arr=f"0{8 + n}:30:00") for n in range(3)]

    result = price(feed, DAY, *buses)

    # First transfer: the count-1 rule (free); second: only the unlimited one (0.50).
    assert [c["amount"] for c in result["charges"]] == ["2.00", "0.00", "0.50"]


@pytest.mark.parametrize(
    ("limit_type", "applies"),
    [("0", False), ("1", True), ("2", True), ("3", True)],
)
def test_duration_limit_types(price: Any, write_feed: Any, limit_type: str, applies: bool) -> None:
    # Bus 08:00-08:50, rail 09:00-09:20, limit one hour: departure to arrival is 80 minutes,
    # departure to departure exactly 60 (the limit is inclusive), arrival to departure 10,
    # arrival to arrival 30.
    feed = transfer_feed(write_feed, f"bus,rail,,3600,{limit_type},0,xfer")

    result = price(
        feed,
        DAY,
        ride("b1", dep="08:00:00", arr="08:50:00"),
        ride("r1", dep="09:00:00", arr="09:20:00"),
    )

    assert result["total"] == ("2.50" if applies else "5.00")


def test_transfers_past_midnight(price: Any, write_feed: Any) -> None:
    feed = transfer_feed(write_feed, "bus,rail,,3600,1,0,xfer")

    result = price(
        feed,
        DAY,
        ride("b1", dep="24:30:00", arr="24:50:00"),
        ride("r1", dep="25:10:00", arr="25:40:00"),
    )

    assert result["total"] == "2.50"


def test_empty_leg_group_matches_groups_not_listed(price: Any, write_feed: Any) -> None:
    feed = transfer_feed(write_feed, "bus,,,,,0,xfer")

    assert price(feed, DAY, *BUS_THEN_RAIL)["total"] == "2.50"


def test_a_journey_naming_an_unknown_route_is_rejected(write_feed: Any) -> None:
    feed = load_feed(transfer_feed(write_feed, "bus,rail,,,,0,xfer"))
    journey = {"service_date": DAY, "legs": [ride("no_such_route")]}

    with pytest.raises(JourneyError, match=r"legs\[0\]\.route_id"):
        quote(feed, parse_journey(journey))
