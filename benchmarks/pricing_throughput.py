"""Pricing throughput: taps priced per second on one core, for the demo
city's rider mix, by the period pricer (trips, transfers, caps,
apportionment) and, in the same run, by the flat-fare pricer as a baseline.

The mix: every rider-day has four taps. 80% ride the metro there and back
(tap-on and tap-off each way); 20% take a bus and change to the ferry within
the hopper's hour, both ways. Each rider-day is priced as one period.

    .venv/bin/python benchmarks/pricing_throughput.py [--riders 20000] [--seed 7]
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import clearing.fares
from clearing.fares import PricingContext, price_flat
from clearing.fares.period import RiderTap, load_tariff, price_period
from clearing.values import Direction, Mode, Money, Tap

DEMO_CITY = Path(clearing.fares.__file__).parent / "configs" / "demo-city"
DAY = datetime(2025, 6, 24, 5, 0, tzinfo=UTC)
STATIONS = ("central", "harbour", "north", "airport")
BUS_STOPS = (("bus-central", "B10"), ("bus-market", "B20"))


def _metro_day(rng: random.Random, rider: int) -> list[RiderTap]:
    home, work = rng.sample(STATIONS, 2)
    out = DAY + timedelta(minutes=rng.randrange(0, 240))
    back = out + timedelta(hours=8, minutes=rng.randrange(0, 120))
    taps = []
    for number, (at, stop, direction) in enumerate(
        (
            (out, home, Direction.ON),
            (out + timedelta(minutes=25), work, Direction.OFF),
            (back, work, Direction.ON),
            (back + timedelta(minutes=25), home, Direction.OFF),
        )
    ):
        taps.append(RiderTap(f"r{rider}-{number}", at, direction, "metro-co", Mode.METRO, stop))
    return taps


def _transfer_day(rng: random.Random, rider: int) -> list[RiderTap]:
    stop, route = rng.choice(BUS_STOPS)
    out = DAY + timedelta(minutes=rng.randrange(0, 240))
    back = out + timedelta(hours=9)
    bus = ("bus-co", Mode.BUS, stop, route)
    ferry = ("ferry-co", Mode.FERRY, "pier-harbour", "F1")
    legs = [(out, bus), (out + timedelta(minutes=20), ferry), (back, ferry)]
    legs.append((back + timedelta(minutes=30), bus))
    return [
        RiderTap(f"r{rider}-{n}", at, Direction.ON, op, mode, where, line)
        for n, (at, (op, mode, where, line)) in enumerate(legs)
    ]


def rider_days(riders: int, seed: int) -> list[list[RiderTap]]:
    rng = random.Random(seed)
    return [
        _transfer_day(rng, rider) if rng.random() < 0.2 else _metro_day(rng, rider)
        for rider in range(riders)
    ]


def _flat_inputs(days: Sequence[Sequence[RiderTap]]) -> tuple[list[Tap], PricingContext]:
    fares = {
        ("metro-co", Mode.METRO): Money(200, "EUR"),
        ("bus-co", Mode.BUS): Money(150, "EUR"),
        ("ferry-co", Mode.FERRY): Money(250, "EUR"),
    }
    devices: dict[str, Mode] = {}
    taps = []
    for rider, day in enumerate(days):
        for sequence, tap in enumerate(day):
            device = f"{tap.operator_id}:{tap.stop_id}"
            devices[device] = tap.mode
            taps.append(
                Tap(
                    tap.tap_id,
                    device,
                    tap.operator_id,
                    sequence,
                    tap.at,
                    f"m{rider}",
                    tap.direction,
                )
            )
    media = {f"m{rider}": "issuer" for rider in range(len(days))}
    return taps, PricingContext(fares, devices, media, {"issuer": "EUR"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--riders", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    tariff = load_tariff(DEMO_CITY)
    days = rider_days(args.riders, args.seed)
    horizon = DAY + timedelta(days=1)
    count = sum(len(day) for day in days)
    flat_taps, context = _flat_inputs(days)

    started = time.perf_counter()
    flat = price_flat(flat_taps, context)
    flat_rate = count / (time.perf_counter() - started)

    started = time.perf_counter()
    total = 0
    for day in days:
        total += price_period(day, tariff, None, horizon).total.minor_units
    period_rate = count / (time.perf_counter() - started)

    print(
        f"rider-days: {len(days):,}  taps: {count:,}  (period total {total / 100:,.2f} EUR,"
        f" flat charges {len(flat):,})"
    )
    print(f"flat-fare pricer:  {flat_rate:12,.0f} taps/s")
    print(f"period pricer:     {period_rate:12,.0f} taps/s")
    print(f"ratio period/flat: {period_rate / flat_rate:12.3f}")


if __name__ == "__main__":
    main()
