"""A day of travel: what every rider does, when, and at which device.

The plan is drawn from a seeded generator before anything is sent, so the
same seed gives the same day whatever happens on the way to the clearing
house. Demand follows a commuter city: a sharp morning peak around 08:10,
a broader evening peak around 17:40, and off-peak trips around midday.
"""

from __future__ import annotations

import random
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from simulators._city import City, Device, Line, MediumKind, Rider, Station

_IDS = uuid.UUID("0c7f1e02-5d3b-4b7e-a0a1-2f3c4d5e6f70")
# A leg missing its tap-off: the rider walked out through an open gate.
FORGOTTEN_TAP_OFF = 0.04
# Readers that lose their link for hours and upload when it comes back:
# two buses out of coverage, a pier reader, one metro gate.
OFFLINE_WINDOWS = {
    "bus-co-b1-bus-1": (7, 15),
    "bus-co-b1-bus-2": (7, 15),
    "ferry-co-beach-pier-gate-1": (10, 18),
    "metro-co-westgate-gate-2": (16, 19),
}
# The lost card: reported at 12:30; whoever found it tries it twice later.
LOST_AT = time(12, 30)
FINDER_TRIES = (time(14, 5), time(17, 50))
FINDER_GATE = "metro-co-central-gate-1"


@dataclass(frozen=True)
class GatePass:
    """A rider at a reader (a gate, a pier, a bus's reader)."""

    at: datetime
    rider: Rider
    device: Device
    on: bool
    tap_id: str
    journey: int


@dataclass(frozen=True)
class ScanPay:
    """A rider scanning the QR of a bus without a reader."""

    at: datetime
    rider: Rider
    device: Device
    scan_id: str
    journey: int


@dataclass(frozen=True)
class TopUp:
    """A wallet top-up in the app or at a ticket machine (``source``)."""

    at: datetime
    rider: Rider
    amount_minor: int
    source: str
    top_up_id: str


@dataclass(frozen=True)
class Block:
    """The issuer blocks a card its rider reported lost."""

    at: datetime
    rider: Rider


Event = GatePass | ScanPay | TopUp | Block


@dataclass
class DayPlan:
    """Every event of the day in time order, and how the plan was drawn.

    journeys: journeys planned (a journey is one or more legs joined by
        transfers); legs: trips planned.
    """

    day: date
    events: list[Event] = field(default_factory=list)
    journeys: int = 0
    legs: int = 0
    transfers: int = 0
    forgotten_tap_offs: int = 0
    lost_card: str = ""


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def _clipped_normal(
    generator: random.Random, mean_h: float, sd_h: float, low_h: float, high_h: float
) -> float:
    return min(high_h, max(low_h, generator.gauss(mean_h, sd_h)))


def _route(
    city: City, origin: Station, destination: Station, card: bool
) -> list[tuple[Line, Station, Station]]:
    """Fewest legs from origin to destination (breadth first over lines);
    card holders cannot ride buses that only take scans."""
    lines = [line for line in city.lines if not (card and all(d.scan_only for d in line.devices))]
    came_from: dict[str, tuple[str, Line, Station] | None] = {origin.stop_id: None}
    stations = {s.stop_id: s for line in lines for s in line.stations}
    frontier = deque([origin])
    while frontier:
        here = frontier.popleft()
        if here == destination:
            break
        for line in lines:
            if here not in line.stations:
                continue
            for there in line.stations:
                if there.stop_id not in came_from:
                    came_from[there.stop_id] = (here.stop_id, line, there)
                    frontier.append(there)
    legs: list[tuple[Line, Station, Station]] = []
    step = came_from.get(destination.stop_id)
    while step is not None:
        previous, line, there = step
        legs.append((line, stations[previous], there))
        step = came_from[previous]
    return legs[::-1]


class _Planner:
    def __init__(self, city: City, day: date, seed: int) -> None:
        self.city = city
        self.start = midnight(day)
        self.generator = random.Random(f"day/{seed}/{day.isoformat()}")
        self.seed = seed
        self.plan = DayPlan(day)
        self._counter = 0

    def _id(self, kind: str) -> str:
        self._counter += 1
        return str(uuid.uuid5(_IDS, f"{self.seed}/{self.plan.day}/{kind}/{self._counter}"))

    def journey(self, rider: Rider, origin: Station, destination: Station, at: datetime) -> None:
        legs = _route(self.city, origin, destination, rider.kind is MediumKind.CARD)
        if not legs:
            return
        self.plan.journeys += 1
        self.plan.legs += len(legs)
        self.plan.transfers += len(legs) - 1
        for line, board, alight in legs:
            at = self._leg(rider, line, board, alight, at)
            at += timedelta(minutes=self.generator.randint(3, 9))

    def _leg(
        self, rider: Rider, line: Line, board: Station, alight: Station, at: datetime
    ) -> datetime:
        generator, journey = self.generator, self.plan.journeys
        ride = timedelta(minutes=2 + board.distance_km(alight) * line.minutes_per_km)
        if not line.gated:
            at += timedelta(minutes=generator.randint(0, 10))  # waiting for the bus
            vehicle = generator.choice(line.devices)
            if vehicle.scan_only:
                self.plan.events.append(ScanPay(at, rider, vehicle, self._id("scan"), journey))
            else:
                self.plan.events.append(
                    GatePass(at, rider, vehicle, True, self._id("tap"), journey)
                )
            return at + ride
        gate_on = generator.choice(line.gates_at(board))
        self.plan.events.append(GatePass(at, rider, gate_on, True, self._id("tap"), journey))
        at += ride + timedelta(seconds=generator.randint(20, 120))
        if generator.random() < FORGOTTEN_TAP_OFF:
            self.plan.forgotten_tap_offs += 1
        else:
            gate_off = generator.choice(line.gates_at(alight))
            self.plan.events.append(GatePass(at, rider, gate_off, False, self._id("tap"), journey))
        return at

    def rider_day(self, rider: Rider) -> None:
        generator = self.generator
        if rider.commuter:
            starts = [
                (rider.home, rider.work, _clipped_normal(generator, 8.15, 0.7, 5.75, 10.5)),
                (rider.work, rider.home, _clipped_normal(generator, 17.65, 0.95, 15.0, 22.75)),
            ]
        else:
            errand = generator.choice([s for line in self.city.lines for s in line.stations])
            out = _clipped_normal(generator, 12.5, 2.2, 6.5, 20.0)
            starts = [(rider.home, errand, out)]
            if errand != rider.home:
                starts.append((errand, rider.home, min(23.0, out + generator.uniform(1.0, 4.0))))
        first = self.start + timedelta(hours=starts[0][2])
        if rider.kind is MediumKind.RIDE_CODE:
            self._top_up(rider, first - timedelta(minutes=generator.randint(5, 60)))
        for origin, destination, hour in starts:
            if origin != destination:
                self.journey(rider, origin, destination, self.start + timedelta(hours=hour))

    def _top_up(self, rider: Rider, at: datetime) -> None:
        at = max(at, self.start)
        source = "app"
        if self.generator.random() < 0.25:
            source = f"tvm-{rider.home.stop_id}"  # a ticket machine at the home station
        amount = self.generator.choice((1000, 2000, 3000))
        self.plan.events.append(TopUp(at, rider, amount, source, self._id("top-up")))

    def lose_a_card(self) -> None:
        """The first card holder who commutes loses the card at lunch: the
        issuer blocks it, the rider's evening journey never happens, and
        the finder's tries are refused at the gate."""
        lost = next((r for r in self.city.riders if r.kind is MediumKind.CARD and r.commuter), None)
        if lost is None:
            return
        cut = self.start + timedelta(hours=LOST_AT.hour, minutes=LOST_AT.minute)
        self.plan.events = [e for e in self.plan.events if e.rider != lost or e.at < cut]
        self.plan.events.append(Block(cut, lost))
        gate = next(d for d in self.city.devices if d.device_id == FINDER_GATE)
        for moment in FINDER_TRIES:
            at = self.start + timedelta(hours=moment.hour, minutes=moment.minute)
            self.plan.events.append(GatePass(at, lost, gate, True, self._id("tap"), 0))
        self.plan.lost_card = lost.rider_id


def plan_day(city: City, day: date, seed: int) -> DayPlan:
    """The whole day, every event in time order (ties in plan order)."""
    planner = _Planner(city, day, seed)
    for rider in city.riders:
        planner.rider_day(rider)
    planner.lose_a_card()
    planner.plan.events.sort(key=lambda event: event.at)
    return planner.plan
