"""Reading the journey JSON: each mistake names the field at fault."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from clearing.fares.gtfs import JourneyError, parse_journey

LEG = {"route_id": "r1", "departure": "23:50:00", "arrival": "25:10:00", "distance_km": 12.4}


def test_a_journey_past_midnight_reads_as_seconds_of_the_service_day() -> None:
    journey = parse_journey({"service_date": "2025-06-24", "timezone": "Asia/Seoul", "legs": [LEG]})

    assert (journey.legs[0].departure, journey.legs[0].arrival) == (85800, 90600)
    assert journey.legs[0].distance_km == Decimal("12.4")
    assert journey.rider_category_id is None
    assert journey.fare_media_id is None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"service_date": "24/06/2025"}, "service_date"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"legs": []}, "legs"),
        ({"legs": [LEG | {"route_id": ""}]}, "legs[0].route_id"),
        ({"legs": [LEG | {"arrival": "23:00:00"}]}, "legs[0].arrival"),
        ({"legs": [LEG | {"distance_km": -1}]}, "legs[0].distance_km"),
        ({"legs": [LEG, LEG]}, "legs[1].departure"),
    ],
)
def test_mistakes_name_their_field(change: dict[str, Any], field: str) -> None:
    journey = {"service_date": "2025-06-24", "legs": [LEG]} | change

    with pytest.raises(JourneyError) as raised:
        parse_journey(journey)

    assert raised.value.field == field
