"""Properties of period pricing (DESIGN.md, "charges are a pure function"),
over random tap histories in the demo city and Seoul: caps hold, order,
duplicates and arrival batches do not matter, shares sum exactly and never
go negative, re-pricing posts nothing."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from clearing.fares.period import (
    ChargeKind,
    PeriodCharges,
    RiderTap,
    Tariff,
    diff_charges,
    load_tariff,
    price_period,
)
from clearing.values import Direction, Mode

from .conftest import CONFIGS

DEMO = load_tariff(CONFIGS / "demo-city")
SEOUL = load_tariff(CONFIGS / "seoul-2025")
START = datetime(2025, 6, 23, 3, 0, tzinfo=UTC)  # a Monday, before the demo city's 04:00
END = START + timedelta(days=3)

# Readers a rider may meet: (direction, operator, mode, stop, route).
DEMO_READERS = [
    *[
        (d, "metro-co", Mode.METRO, s, None)
        for d in Direction
        for s in ("central", "harbour", "north", "airport")
    ],
    (Direction.ON, "bus-co", Mode.BUS, "bus-central", "B10"),
    (Direction.ON, "bus-co", Mode.BUS, "bus-market", "B20"),
    (Direction.ON, "ferry-co", Mode.FERRY, "pier-harbour", "F1"),
]
SEOUL_READERS = [
    *[
        (d, "seoul-metro", Mode.METRO, s, None)
        for d in Direction
        for s in ("cityhall", "gangnam", "jamsil", "yongsan")
    ],
    *[
        (d, "seoul-bus", Mode.BUS, s, "bus143")
        for d in Direction
        for s in ("bus-jongno", "bus-cityhall", "bus-sinchon")
    ],
]


def _histories(
    readers: list[tuple[Direction, str, Mode, str, str | None]],
) -> st.SearchStrategy[list[RiderTap]]:
    tap = st.tuples(st.integers(0, 3 * 24 * 60), st.sampled_from(readers))
    return st.lists(tap, max_size=24).map(
        lambda drawn: [
            RiderTap(f"t{n}", START + timedelta(minutes=minute), *reader)
            for n, (minute, reader) in enumerate(drawn)
        ]
    )


def _price(taps: list[RiderTap], tariff: Tariff = DEMO, horizon: datetime = END) -> PeriodCharges:
    return price_period(taps, tariff, None, horizon)


@settings(max_examples=150)
@given(_histories(DEMO_READERS))
def test_a_rider_never_pays_more_than_the_daily_cap(taps: list[RiderTap]) -> None:
    paid: dict[object, int] = defaultdict(int)
    for charge in _price(taps).charges:
        if charge.kind is not ChargeKind.INCOMPLETE:
            paid[charge.service_day] += charge.amount.minor_units
    assert all(amount <= 700 for amount in paid.values())


@settings(max_examples=100)
@given(_histories(DEMO_READERS), st.randoms(use_true_random=False))
def test_order_and_duplicates_do_not_matter(taps: list[RiderTap], random: object) -> None:
    shuffled = taps + taps[: len(taps) // 2]
    random.shuffle(shuffled)  # type: ignore[attr-defined]
    assert _price(shuffled) == _price(taps)


@settings(max_examples=100)
@given(_histories(DEMO_READERS), st.lists(st.integers(1, 5), max_size=24), st.randoms())
def test_arrival_batches_do_not_matter(
    taps: list[RiderTap], sizes: list[int], random: object
) -> None:
    arrival = list(taps)
    random.shuffle(arrival)  # type: ignore[attr-defined]
    posted: dict[tuple[str, str], int] = defaultdict(int)
    previous = _price([], horizon=START)
    seen: list[RiderTap] = []
    horizon = START
    for step, size in enumerate([*sizes, len(arrival)]):
        seen += arrival[len(seen) : len(seen) + size]
        last = step == len(sizes)
        horizon = END if last else min(END, horizon + timedelta(hours=size * 4))
        current = _price(seen, horizon=horizon)
        for adjustment in diff_charges(previous, current):
            posted[adjustment.charge_id, adjustment.operator_id] += (
                adjustment.amount_delta.minor_units
            )
        previous = current
    final = _price(taps)
    assert previous == final
    expected = {
        (charge.charge_id, share.operator_id): share.minor_units
        for charge in final.charges
        for share in charge.shares
    }
    assert {key: amount for key, amount in posted.items() if amount} == expected


@settings(max_examples=100)
@given(st.sampled_from([DEMO, SEOUL]), st.data())
def test_shares_sum_exactly_and_none_is_negative(tariff: Tariff, data: st.DataObject) -> None:
    readers = DEMO_READERS if tariff is DEMO else SEOUL_READERS
    charges = _price(data.draw(_histories(readers)), tariff)
    for charge in charges.charges:
        assert sum(share.minor_units for share in charge.shares) == charge.amount.minor_units
        sign = -1 if charge.kind is ChargeKind.CAP_REBATE else 1
        assert all(sign * share.minor_units > 0 for share in charge.shares)
    net: dict[tuple[tuple[str, ...], str], int] = defaultdict(int)
    for charge in charges.charges:
        for share in charge.shares:
            net[charge.tap_ids, share.operator_id] += share.minor_units
    assert all(amount >= 0 for amount in net.values())
    assert charges.total.minor_units == sum(c.amount.minor_units for c in charges.charges)


@settings(max_examples=100)
@given(_histories(SEOUL_READERS))
def test_repricing_the_same_taps_posts_nothing(taps: list[RiderTap]) -> None:
    assert diff_charges(_price(taps, SEOUL), _price(list(reversed(taps)), SEOUL)) == []
