"""``farebridge fares`` as a user meets it: tables, JSON, exit codes, and a
one-line error instead of a traceback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from typer.testing import CliRunner

from clearing.cli._fares import app as fares_app

FEEDS = Path(__file__).parent / "feeds"

root = typer.Typer()
root.add_typer(fares_app, name="fares")
runner = CliRunner()

JOURNEY = {
    "service_date": "2025-06-24",
    "timezone": "America/Vancouver",
    "rider_category_id": None,
    "fare_media_id": None,
    "legs": [
        {
            "route_id": "10232",
            "from_stop_id": "bus_stop_1",
            "to_stop_id": "8039",
            "departure": "08:00:00",
            "arrival": "08:25:00",
            "distance_km": 4.2,
        },
        {
            "route_id": "13686",
            "from_stop_id": "8039",
            "to_stop_id": "8066",
            "departure": "08:35:00",
            "arrival": "09:00:00",
        },
    ],
}


def journey_file(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "journey.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def test_validate_a_clean_feed_exits_0() -> None:
    result = runner.invoke(root, ["fares", "validate", "--feed", str(FEEDS / "translink")])

    assert result.exit_code == 0, result.output
    assert "no issues" in result.output


def test_validate_lists_issues_with_their_row_and_exits_1(write_feed: Any) -> None:
    feed = write_feed(
        {
            "routes.txt": "route_id\nr1",
            "fare_products.txt": "fare_product_id,amount,currency\nfare,1.00,ZZZ",
            "fare_leg_rules.txt": "fare_product_id\nfare",
        }
    )

    table = runner.invoke(root, ["fares", "validate", "--feed", str(feed)])
    as_json = runner.invoke(root, ["fares", "validate", "--feed", str(feed), "--json"])

    assert table.exit_code == 1
    assert "Feed issues" in table.output
    assert "error" in table.output
    assert as_json.exit_code == 1
    assert json.loads(as_json.output)[0] == {
        "file": "fare_products.txt",
        "row": 1,
        "field": "currency",
        "code": "unknown_currency",
        "message": "'ZZZ' is not an ISO 4217 currency this engine knows",
        "severity": "error",
    }


def test_validate_warnings_alone_exit_0() -> None:
    result = runner.invoke(root, ["fares", "validate", "--feed", str(FEEDS / "muni_fare_media")])

    assert result.exit_code == 0
    assert "warning" in result.output


def test_quote_prints_the_quote_json(tmp_path: Path) -> None:
    result = runner.invoke(
        root,
        [
            "fares",
            "quote",
            "--feed",
            str(FEEDS / "translink"),
            "--journey",
            str(journey_file(tmp_path, JOURNEY)),
        ],
    )

    assert result.exit_code == 0, result.output
    quote = json.loads(result.output)
    assert (quote["fare_known"], quote["total"], quote["currency"]) == (True, "4.65", "CAD")
    assert quote["charges"][0] == {
        "kind": "leg",
        "legs": [0],
        "fare_product_id": "bus_flat_fare",
        "amount": "3.20",
        "shares": [{"operator": "CMBC", "amount": "3.20"}],
    }


def test_quote_of_an_uncovered_journey_says_the_fare_is_unknown(tmp_path: Path) -> None:
    journey = JOURNEY | {
        "legs": [
            {
                "route_id": "BA:yellow",
                "from_stop_id": "GLEN",
                "to_stop_id": "ASHB",
                "departure": "08:00:00",
                "arrival": "08:30:00",
            }
        ]
    }
    result = runner.invoke(
        root,
        [
            "fares",
            "quote",
            "--feed",
            str(FEEDS / "bart"),
            "--journey",
            str(journey_file(tmp_path, journey)),
        ],
    )

    assert result.exit_code == 0
    assert json.loads(result.output)["total"] is None


def user_error(args: list[str]) -> str:
    result = runner.invoke(root, args)
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    # One message; the console may soft-wrap it to the terminal's width.
    assert result.stderr.count("error:") == 1
    return " ".join(result.stderr.split())


def test_quote_with_a_bad_journey_is_a_one_line_error(tmp_path: Path) -> None:
    feed = str(FEEDS / "translink")
    bad_time = JOURNEY | {"legs": [JOURNEY["legs"][0] | {"departure": "8 am"}]}

    assert "not valid JSON" in user_error(
        ["fares", "quote", "--feed", feed, "--journey", str(journey_file(tmp_path, "{"))]
    )
    assert "legs[0].departure" in user_error(
        ["fares", "quote", "--feed", feed, "--journey", str(journey_file(tmp_path, bad_time))]
    )
    assert "rider_category_id" in user_error(
        [
            "fares",
            "quote",
            "--feed",
            feed,
            "--journey",
            str(journey_file(tmp_path, JOURNEY | {"rider_category_id": "pirate"})),
        ]
    )
    assert "cannot read" in user_error(
        ["fares", "quote", "--feed", feed, "--journey", str(tmp_path / "absent.json")]
    )


def test_quote_with_a_broken_feed_is_a_one_line_error(tmp_path: Path, write_feed: Any) -> None:
    feed = write_feed({"routes.txt": "route_id\n10232"})
    journey = str(journey_file(tmp_path, JOURNEY))

    assert "error(s) in the fare feed" in user_error(
        ["fares", "quote", "--feed", str(feed), "--journey", journey]
    )
    assert "not a directory" in user_error(
        ["fares", "quote", "--feed", str(tmp_path / "nowhere"), "--journey", journey]
    )
