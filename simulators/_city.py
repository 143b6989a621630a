"""The simulated city: who runs what, who issues what, who lives where.

Everything here is plain data drawn from a seeded generator, so the same
seed always yields the same city. Fares are flat per operator and mode
(``ClearingService.SetFlatFare``): every tap-on pays its operator's fare,
so a tap's charge never depends on when it reached the clearing house, and
a faulty day must end in exactly the books of a calm one.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeAlias

from farebridge.v1 import common_pb2

TransitMode: TypeAlias = common_pb2.TransitMode.ValueType
CURRENCY = "EUR"
CLEARING_HOUSE = "clearing-house"


class MediumKind(StrEnum):
    """How a rider pays.

    CARD: a stored-value card with its own purse; every tap-on carries the
        card's MAC'd debit of the fare.
    RIDE_CODE: a wallet account; the phone shows a fresh signed QR ride code
        at every gate and scans the vehicle's QR on buses without readers.
    """

    CARD = "card"
    RIDE_CODE = "ride_code"


@dataclass(frozen=True)
class Station:
    """A stop of a line, with its position (km east and north of the centre)."""

    stop_id: str
    name: str
    x_km: float
    y_km: float

    def distance_km(self, other: Station) -> float:
        return math.hypot(self.x_km - other.x_km, self.y_km - other.y_km)


@dataclass(frozen=True)
class Device:
    """A fare device registered with the clearing house.

    stop_id: the station for gates and piers; the route for a vehicle.
    scan_only: a vehicle without a reader; riders scan its static EMVCo QR.
    """

    device_id: str
    operator_id: str
    mode: TransitMode
    stop_id: str
    scan_only: bool = False


@dataclass(frozen=True)
class Line:
    """A line of one operator.

    gated: riders tap on at the origin and off at the destination (metro,
        ferry); otherwise they tap on aboard a vehicle only (bus).
    devices: gates per station for gated lines, vehicles otherwise.
    """

    line_id: str
    operator_id: str
    mode: TransitMode
    stations: tuple[Station, ...]
    gated: bool
    devices: tuple[Device, ...]
    minutes_per_km: float

    def gates_at(self, station: Station) -> tuple[Device, ...]:
        return tuple(d for d in self.devices if d.stop_id == station.stop_id)


@dataclass(frozen=True)
class Operator:
    """A transit operator: one mode and its flat fare in minor units."""

    participant_id: str
    display_name: str
    mode: TransitMode
    fare_minor: int


@dataclass(frozen=True)
class Issuer:
    """A card issuer (stored-value cards) or a wallet provider (accounts)."""

    participant_id: str
    display_name: str
    media: MediumKind
    currency: str = CURRENCY


@dataclass(frozen=True)
class Rider:
    """One rider, with one medium.

    rider_id: the card id of a card, the account id of a wallet account.
    home, work: where the rider's day starts and what it commutes to.
    commuter: travels to work in the morning peak and back in the evening.
    balance_minor: a card's purse at the start of the day.
    """

    rider_id: str
    issuer_id: str
    kind: MediumKind
    home: Station
    work: Station
    commuter: bool
    balance_minor: int
    card_uid: bytes = b""


@dataclass(frozen=True)
class City:
    operators: tuple[Operator, ...]
    issuers: tuple[Issuer, ...]
    lines: tuple[Line, ...]
    riders: tuple[Rider, ...]

    @property
    def devices(self) -> tuple[Device, ...]:
        return tuple(device for line in self.lines for device in line.devices)

    def operator(self, participant_id: str) -> Operator:
        return next(o for o in self.operators if o.participant_id == participant_id)

    def issuer(self, participant_id: str) -> Issuer:
        return next(i for i in self.issuers if i.participant_id == participant_id)

    def fare_of(self, device: Device) -> int:
        return self.operator(device.operator_id).fare_minor

    def lines_serving(self, station: Station) -> tuple[Line, ...]:
        return tuple(line for line in self.lines if station in line.stations)


OPERATORS = (
    Operator("metro-co", "Metro Co", common_pb2.TRANSIT_MODE_METRO, 180),
    Operator("bus-co", "Bus Co", common_pb2.TRANSIT_MODE_BUS, 120),
    Operator("ferry-co", "Ferry Co", common_pb2.TRANSIT_MODE_FERRY, 250),
)
ISSUERS = (
    Issuer("tapcard", "TapCard stored value", MediumKind.CARD),
    Issuer("phonepay", "PhonePay wallet", MediumKind.RIDE_CODE),
    # A wallet from across the border: its riders' funds are in SGD, the fares
    # in EUR, converted at the rate the clearing house publishes for the cycle.
    Issuer("citywallet", "CityWallet", MediumKind.RIDE_CODE, "SGD"),
)
# (fare currency, funds currency, rate): one EUR is worth 1.4523 SGD.
FX_RATES = (("EUR", "SGD", "1.4523"),)
# Shares of the population per issuer, in ISSUERS order.
_ISSUER_WEIGHTS = (5, 3, 2)


def _station(stop_id: str, name: str, x_km: float, y_km: float) -> Station:
    return Station(stop_id, name, x_km, y_km)


# The metro runs east-west through the centre; the B1 bus climbs north from
# it, B2 (vehicles without readers) serves the south, and the ferry crosses
# the harbour. Shared stations are where riders transfer.
_CENTRAL = _station("central", "Central", 0.0, 0.0)
_HARBOUR = _station("harbourfront", "Harbourfront", 2.4, -1.1)
_METRO = (
    _station("airport", "Airport", -9.5, 0.8),
    _station("westgate", "Westgate", -6.1, 0.4),
    _station("university", "University", -3.3, 0.9),
    _station("old-town", "Old Town", -1.4, 0.3),
    _CENTRAL,
    _station("market", "Market", 1.2, -0.4),
    _HARBOUR,
    _station("eastfield", "Eastfield", 5.0, -0.6),
)
_B1 = (
    _CENTRAL,
    _station("hospital", "Hospital", 0.3, 1.6),
    _station("stadium", "Stadium", 0.9, 3.2),
    _station("hillside", "Hillside", 1.4, 4.9),
)
_B2 = (
    _HARBOUR,
    _station("docks", "Docks", 3.1, -2.6),
    _station("lighthouse", "Lighthouse", 4.2, -4.0),
)
_FERRY = (
    _HARBOUR,
    _station("island-pier", "Island Pier", 4.8, -6.5),
    _station("beach-pier", "Beach Pier", 1.5, -7.2),
)


def _gates(
    operator_id: str, mode: TransitMode, stations: tuple[Station, ...], per: int
) -> tuple[Device, ...]:
    return tuple(
        Device(f"{operator_id}-{s.stop_id}-gate-{n}", operator_id, mode, s.stop_id)
        for s in stations
        for n in range(1, per + 1)
    )


def _vehicles(line_id: str, operator_id: str, count: int, *, scan_only: bool) -> tuple[Device, ...]:
    return tuple(
        Device(
            f"{operator_id}-{line_id.lower()}-bus-{n}",
            operator_id,
            common_pb2.TRANSIT_MODE_BUS,
            line_id,
            scan_only,
        )
        for n in range(1, count + 1)
    )


def city_lines() -> tuple[Line, ...]:
    """The four lines: 16 metro gates, 6 B1 buses with readers, 4 B2 buses
    with only a QR, 3 ferry pier readers."""
    metro, ferry = common_pb2.TRANSIT_MODE_METRO, common_pb2.TRANSIT_MODE_FERRY
    bus = common_pb2.TRANSIT_MODE_BUS
    return (
        Line("M1", "metro-co", metro, _METRO, True, _gates("metro-co", metro, _METRO, 2), 1.6),
        Line("B1", "bus-co", bus, _B1, False, _vehicles("B1", "bus-co", 6, scan_only=False), 3.0),
        Line("B2", "bus-co", bus, _B2, False, _vehicles("B2", "bus-co", 4, scan_only=True), 3.0),
        Line("F1", "ferry-co", ferry, _FERRY, True, _gates("ferry-co", ferry, _FERRY, 1), 2.2),
    )


def _rider(
    generator: random.Random, index: int, stations: list[Station], card_stations: list[Station]
) -> Rider:
    issuer = generator.choices(ISSUERS, weights=_ISSUER_WEIGHTS)[0]
    # B2's buses have no reader: card holders neither live nor work only there.
    home, work = generator.sample(card_stations if issuer.media is MediumKind.CARD else stations, 2)
    commuter = generator.random() < 0.7
    if issuer.media is MediumKind.CARD:
        return Rider(
            f"card-{index:06d}",
            issuer.participant_id,
            MediumKind.CARD,
            home,
            work,
            commuter,
            # Most purses cover the day; a few run dry and the gate says no.
            generator.choice((300, 1500, 2000, 3000, 5000)),
            generator.getrandbits(56).to_bytes(7, "big"),
        )
    return Rider(
        f"acct-{index:06d}", issuer.participant_id, MediumKind.RIDE_CODE, home, work, commuter, 0
    )


def build_city(riders: int, seed: int) -> City:
    """Three operators, one card issuer, two wallet providers and ``riders``
    riders living and working at the stations, all settling in EUR."""
    generator = random.Random(f"city/{seed}")
    lines = city_lines()
    stations = sorted({s for line in lines for s in line.stations}, key=lambda s: s.stop_id)
    with_readers = [
        s
        for s in stations
        if any(not d.scan_only for line in lines if s in line.stations for d in line.devices)
    ]
    population = tuple(_rider(generator, n, stations, with_readers) for n in range(1, riders + 1))
    return City(OPERATORS, ISSUERS, lines, population)
