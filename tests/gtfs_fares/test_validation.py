"""validate_feed reports each problem with file, row and field; load_feed
refuses a feed with errors and accepts one with only warnings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from clearing.fares.gtfs import FeedError, FeedNotFoundError, Severity, load_feed, validate_feed

FEEDS = Path(__file__).parent / "feeds"

GOOD = {
    "routes.txt": "route_id,route_type,network_id\nr1,3,bus",
    "fare_products.txt": "fare_product_id,amount,currency\nfare,1.25,SGD",
    "fare_leg_rules.txt": "leg_group_id,network_id,fare_product_id\ng,bus,fare",
}


def where(issues: list[Any]) -> list[tuple[str, int | None, str | None, str]]:
    return [(i.file, i.row, i.field, str(i.code)) for i in issues]


@pytest.mark.parametrize("feed", sorted(p.name for p in FEEDS.iterdir()))
def test_every_published_example_feed_has_no_errors(feed: str) -> None:
    assert all(i.severity is Severity.WARNING for i in validate_feed(FEEDS / feed))


def test_a_clean_feed_has_no_issues(write_feed: Any) -> None:
    assert validate_feed(write_feed(GOOD)) == []


def test_missing_required_files_and_columns(write_feed: Any) -> None:
    feed = write_feed(
        {"routes.txt": "route_type\n3", "fare_products.txt": GOOD["fare_products.txt"]}
    )

    assert where(validate_feed(feed)) == [
        ("routes.txt", 0, "route_id", "missing_column"),
        ("fare_leg_rules.txt", None, None, "missing_file"),
    ]


def test_the_bart_pages_misspelt_area_is_an_unknown_reference(write_feed: Any) -> None:
    files = {p.name: p.read_text() for p in (FEEDS / "bart").glob("*.txt")}
    files["fare_leg_rules.txt"] = files["fare_leg_rules.txt"].replace(
        "BA,ASHB,OAKL", "BA,ASKB,OAKL"
    )

    issues = validate_feed(write_feed(files))

    assert where(issues) == [("fare_leg_rules.txt", 2, "from_area_id", "unknown_reference")]
    assert "'ASKB' is not defined in areas.txt" in issues[0].message


@pytest.mark.parametrize(
    ("products", "expected"),
    [
        ("fare,1.255,SGD", ("fare_products.txt", 1, "amount", "invalid_amount")),
        ('fare,"1,45",CAD', ("fare_products.txt", 1, "amount", "invalid_amount")),
        ("fare,1.25,XYZ", ("fare_products.txt", 1, "currency", "unknown_currency")),
        ("fare,,SGD", ("fare_products.txt", 1, "amount", "missing_value")),
    ],
)
def test_bad_amounts_and_currencies(
    write_feed: Any, products: str, expected: tuple[Any, ...]
) -> None:
    feed = write_feed(GOOD | {"fare_products.txt": f"fare_product_id,amount,currency\n{products}"})

    issues = validate_feed(feed)

    assert expected in where(issues)
    with pytest.raises(FeedError) as raised:
        load_feed(feed)
    assert expected in where(list(raised.value.issues))


def test_amounts_are_exact_in_every_exponent(write_feed: Any) -> None:
    products = (
        "fare_product_id,amount,currency\n"
        "fare,1350,KRW\nyen,210,JPY\ndinar,0.750,KWD\ncent,-0.25,USD"
    )
    feed = load_feed(write_feed(GOOD | {"fare_products.txt": products}))

    assert [(p.amount, p.currency) for p in feed.fare_products] == [
        (1350, "KRW"),
        (210, "JPY"),
        (750, "KWD"),
        (-25, "USD"),
    ]


def test_too_few_decimals_is_a_warning_and_loads(write_feed: Any) -> None:
    feed = write_feed(GOOD | {"fare_products.txt": "fare_product_id,amount,currency\nfare,2.5,SGD"})

    issues = validate_feed(feed)

    assert [i.severity for i in issues] == [Severity.WARNING]
    assert load_feed(feed).fare_products[0].amount == 250


def test_duplicate_keys(write_feed: Any) -> None:
    products = "fare_product_id,amount,currency\nfare,1.25,SGD\nfare,1.50,SGD"
    issues = validate_feed(write_feed(GOOD | {"fare_products.txt": products}))

    assert where(issues) == [("fare_products.txt", 2, None, "duplicate_key")]
    assert "row 1" in issues[0].message


TRANSFERS = (
    "from_leg_group_id,to_leg_group_id,transfer_count,duration_limit,duration_limit_type,"
    "fare_transfer_type,fare_product_id"
)


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ("g,g,,,,0,", ("transfer_count", "missing_value")),
        ("g,,2,,,0,", ("transfer_count", "forbidden_value")),
        ("g,g,0,,,0,", ("transfer_count", "invalid_value")),
        ("g,g,-1,5400,,0,", ("duration_limit_type", "missing_value")),
        ("g,g,-1,,1,0,", ("duration_limit_type", "forbidden_value")),
        ("g,g,-1,5400,4,0,", ("duration_limit_type", "invalid_enum")),
        ("g,g,-1,,,3,", ("fare_transfer_type", "invalid_enum")),
        ("g,g,-1,0,1,0,", ("duration_limit", "invalid_value")),
        ("g,other,,,,0,", ("to_leg_group_id", "unknown_reference")),
        ("g,g,-1,,,0,nothing", ("fare_product_id", "unknown_reference")),
    ],
)
def test_transfer_rule_problems(write_feed: Any, row: str, expected: tuple[str, str]) -> None:
    issues = validate_feed(write_feed(GOOD | {"fare_transfer_rules.txt": f"{TRANSFERS}\n{row}"}))

    assert ("fare_transfer_rules.txt", 1, *expected) in where(issues)


CALENDAR = (
    "service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,start_date,end_date\n"
    "wk,1,1,1,1,1,0,0,20250101,20251231"
)


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ("p,18:00:00,02:00:00,wk", (1, "end_time", "empty_timeframe")),
        ("p,08:00:00,08:00:00,wk", (1, "end_time", "empty_timeframe")),
        ("p,08:00:00,25:00:00,wk", (1, "end_time", "invalid_time")),
        ("p,08:00:00,,wk", (1, "end_time", "missing_value")),
        ("p,08:00:00,10:00:00,nope", (1, "service_id", "unknown_reference")),
        (
            "p,08:00:00,10:00:00,wk\np,09:00:00,11:00:00,wk",
            (2, "start_time", "overlapping_timeframes"),
        ),
    ],
)
def test_timeframe_problems(write_feed: Any, rows: str, expected: tuple[Any, ...]) -> None:
    feed = write_feed(
        GOOD
        | {
            "calendar.txt": CALENDAR,
            "timeframes.txt": f"timeframe_group_id,start_time,end_time,service_id\n{rows}",
        }
    )

    assert ("timeframes.txt", *expected) in where(validate_feed(feed))


def test_back_to_back_timeframes_do_not_overlap(write_feed: Any) -> None:
    rows = "p,08:00:00,10:00:00,wk\np,10:00:00,24:00:00,wk"
    feed = write_feed(
        GOOD
        | {
            "calendar.txt": CALENDAR,
            "timeframes.txt": f"timeframe_group_id,start_time,end_time,service_id\n{rows}",
        }
    )

    assert validate_feed(feed) == []


def test_several_categories_need_exactly_one_default(write_feed: Any) -> None:
    feed = write_feed(
        GOOD
        | {
            "rider_categories.txt": "rider_category_id,rider_category_name,"
            "is_default_fare_category\nadult,Adult,0\nchild,Child,0\nsenior,Senior,2",
            "fare_products.txt": "fare_product_id,amount,currency,rider_category_id\n"
            "fare,1.25,SGD,adult\nfare,0.75,SGD,child",
        }
    )

    assert where(validate_feed(feed)) == [
        ("rider_categories.txt", 3, "is_default_fare_category", "invalid_enum"),
        ("fare_products.txt", 1, "rider_category_id", "default_rider_category"),
    ]


def test_networks_file_is_forbidden_when_routes_name_networks(write_feed: Any) -> None:
    feed = write_feed(GOOD | {"networks.txt": "network_id\nbus"})

    assert ("networks.txt", None, None, "forbidden_file") in where(validate_feed(feed))


def test_leg_rule_references(write_feed: Any) -> None:
    rules = "network_id,from_timeframe_group_id,fare_product_id,rule_priority\nmetro,peak,gone,-1"

    assert where(validate_feed(write_feed(GOOD | {"fare_leg_rules.txt": rules}))) == [
        ("fare_leg_rules.txt", 1, "rule_priority", "invalid_value"),
    ]
    rules = "network_id,from_timeframe_group_id,fare_product_id\nmetro,peak,gone"
    assert where(validate_feed(write_feed(GOOD | {"fare_leg_rules.txt": rules}))) == [
        ("fare_leg_rules.txt", 1, "fare_product_id", "unknown_reference"),
        ("fare_leg_rules.txt", 1, "from_timeframe_group_id", "unknown_reference"),
        ("fare_leg_rules.txt", 1, "network_id", "unknown_reference"),
    ]


def test_a_missing_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FeedNotFoundError):
        validate_feed(tmp_path / "nowhere")
