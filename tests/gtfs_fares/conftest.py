"""Fixtures for the GTFS-Fares v2 tests.

Feeds under ``feeds/`` reproduce gtfs.org's published examples (each folder's
README.md cites its page). A journey in a test reads like one:
``price("translink", "2025-06-24", ride("13686", "8039", "8066", "08:05:00", "08:31:00"))``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from clearing.fares.gtfs import load_feed, parse_journey, quote, quote_json

FEEDS = Path(__file__).parent / "feeds"

Leg = dict[str, Any]
Price = Callable[..., dict[str, Any]]
WriteFeed = Callable[[Mapping[str, str]], Path]


def ride(
    route_id: str,
    from_stop_id: str | None = None,
    to_stop_id: str | None = None,
    departure: str = "08:00:00",
    arrival: str = "08:30:00",
) -> Leg:
    """One leg of a journey, in the journey JSON's own words."""
    return {
        "route_id": route_id,
        "from_stop_id": from_stop_id,
        "to_stop_id": to_stop_id,
        "departure": departure,
        "arrival": arrival,
    }


@pytest.fixture
def ride_leg() -> Callable[..., Leg]:
    return ride


def _price(
    feed: str | Path,
    service_date: str,
    *legs: Leg,
    rider: str | None = None,
    media: str | None = None,
    timezone: str | None = None,
) -> dict[str, Any]:
    directory = feed if isinstance(feed, Path) else FEEDS / feed
    journey = {
        "service_date": service_date,
        "timezone": timezone,
        "rider_category_id": rider,
        "fare_media_id": media,
        "legs": list(legs),
    }
    return quote_json(quote(load_feed(directory), parse_journey(journey)))


@pytest.fixture
def price() -> Price:
    """Quotes a journey under a feed (a folder name under feeds/ or a path)
    and returns the quote's JSON form."""
    return _price


@pytest.fixture
def write_feed(tmp_path: Path) -> WriteFeed:
    """Writes a feed directory from {file name: CSV text}; returns its path."""

    def write(files: Mapping[str, str]) -> Path:
        directory = tmp_path / "feed"
        directory.mkdir(exist_ok=True)
        for name, text in files.items():
            (directory / name).write_text(text.strip() + "\n", encoding="utf-8")
        return directory

    return write
