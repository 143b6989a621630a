"""The demo city: who runs what, who issues what, who rides where.

Everything here is plain data drawn from a seeded generator, so the same
seed always yields the same city and the same day of taps.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from farebridge.v1 import common_pb2


@dataclass(frozen=True)
class Station:
    """A stop with one reader on it."""

    stop_id: str
    device_id: str


@dataclass(frozen=True)
class Operator:
    """A transit operator with one mode, a flat fare and its stations.

    fare_minor: the flat fare in minor units of ``currency``.
    """

    participant_id: str
    display_name: str
    mode: common_pb2.TransitMode.ValueType
    fare_minor: int
    currency: str
    stations: tuple[Station, ...]


@dataclass(frozen=True)
class Issuer:
    participant_id: str
    display_name: str
    currency: str


@dataclass(frozen=True)
class Rider:
    """A rider, known to farebridge only by the token of their medium."""

    medium_token: str
    issuer_id: str


@dataclass(frozen=True)
class Tap:
    """One scripted tap: who, where, when, which way."""

    device_id: str
    medium_token: str
    direction: common_pb2.TapDirection.ValueType
    tapped_at: datetime


@dataclass(frozen=True)
class City:
    operators: tuple[Operator, ...]
    issuers: tuple[Issuer, ...]
    riders: tuple[Rider, ...]

    def operator_of(self, device_id: str) -> Operator:
        for operator in self.operators:
            if any(s.device_id == device_id for s in operator.stations):
                return operator
        raise KeyError(device_id)


def _stations(prefix: str, names: list[str]) -> tuple[Station, ...]:
    return tuple(Station(f"{prefix}-{name}", f"{prefix}-{name}-reader-1") for name in names)


def demo_city(riders: int, seed: int) -> City:
    """Three operators, two issuers, and ``riders`` riders, all settling in SGD."""
    generator = random.Random(seed)
    operators = (
        Operator(
            "metro",
            "Harbour Metro",
            common_pb2.TRANSIT_MODE_METRO,
            190,
            "SGD",
            _stations("metro", ["central", "harbourfront", "university", "airport"]),
        ),
        Operator(
            "citybus",
            "City Bus",
            common_pb2.TRANSIT_MODE_BUS,
            120,
            "SGD",
            _stations("bus", ["market", "hospital", "stadium"]),
        ),
        Operator(
            "ferry",
            "Island Ferry",
            common_pb2.TRANSIT_MODE_FERRY,
            250,
            "SGD",
            _stations("ferry", ["pier-1", "island"]),
        ),
    )
    issuers = (
        Issuer("tapcard", "TapCard stored value", "SGD"),
        Issuer("phonepay", "PhonePay wallet", "SGD"),
    )
    population = tuple(
        Rider(f"tok-{generator.getrandbits(64):016x}", generator.choice(issuers).participant_id)
        for _ in range(riders)
    )
    return City(operators, issuers, population)


def _ride(generator: random.Random, city: City, rider: Rider, start: datetime) -> list[Tap]:
    operator = generator.choice(city.operators)
    board, alight = generator.sample(operator.stations, 2)
    minutes = generator.randint(8, 45)
    return [
        Tap(board.device_id, rider.medium_token, common_pb2.TAP_DIRECTION_ON, start),
        Tap(
            alight.device_id,
            rider.medium_token,
            common_pb2.TAP_DIRECTION_OFF,
            start + timedelta(minutes=minutes),
        ),
    ]


def day_of_taps(city: City, day: date, seed: int) -> list[Tap]:
    """Every rider travels one to three times, at morning and evening peaks or
    in between; each trip is a tap-on and, after the ride, a tap-off."""
    generator = random.Random(seed)
    midnight = datetime.combine(day, time(0), tzinfo=UTC)
    taps: list[Tap] = []
    for rider in city.riders:
        for _ in range(generator.randint(1, 3)):
            hour = generator.choice([7, 8, 8, 9, 12, 17, 18, 18, 19, 22])
            start = midnight + timedelta(hours=hour, minutes=generator.randint(0, 59))
            taps.extend(_ride(generator, city, rider, start))
    return sorted(taps, key=lambda tap: tap.tapped_at)
