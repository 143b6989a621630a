"""Flat pricing as a pure function: a tap script and a fare table in, charges
and unpriced taps out. No database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from clearing.fares import Charge, PricingContext, Unpriced, UnpricedReason, price_flat
from clearing.values import Direction, Mode, Money, Tap

# device: (operator, mode). The city the scripts below ride in.
DEVICES = {
    "metro-gate-1": ("op-metro", Mode.METRO),
    "metro-bus-9": ("op-metro", Mode.BUS),  # the metro's feeder bus: no fare loaded
    "bus-front-1": ("op-bus", Mode.BUS),
    "bus-tram-2": ("op-bus", Mode.TRAM),  # a free shuttle: fare loaded as zero
    "ferry-pier-1": ("op-ferry", Mode.FERRY),
}
FARES = {
    ("op-metro", Mode.METRO): Money(190, "SGD"),
    ("op-bus", Mode.BUS): Money(120, "SGD"),
    ("op-bus", Mode.TRAM): Money(0, "SGD"),
    ("op-ferry", Mode.FERRY): Money(1350, "KRW"),
}
# medium: issuer. "card-nobody" is registered by no one.
MEDIA = {"card-ann": "issuer-sgd", "card-bo": "issuer-sgd", "card-kim": "issuer-krw"}
ISSUER_CURRENCIES = {"issuer-sgd": "SGD", "issuer-krw": "KRW"}
CONTEXT = PricingContext(
    fares=FARES,
    device_modes={device: mode for device, (_, mode) in DEVICES.items()},
    media_issuers=MEDIA,
    issuer_currencies=ISSUER_CURRENCIES,
)
START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def taps(script: str) -> list[Tap]:
    """One tap per line: ``tap_id  medium  on|off  device``; a minute apart."""
    result = []
    lines = [line.split() for line in script.strip().splitlines()]
    for sequence, (tap_id, medium, direction, device) in enumerate(lines):
        operator, _ = DEVICES[device]
        at = START + timedelta(minutes=sequence)
        result.append(Tap(tap_id, device, operator, sequence, at, medium, Direction(direction)))
    return result


def charged(tap_id: str, operator: str, issuer: str, medium: str, amount: Money) -> Charge:
    return Charge(tap_id, operator, issuer, medium, amount)


def reasons(results: list[Charge | Unpriced]) -> dict[str, UnpricedReason]:
    return {r.tap_id: r.reason for r in results if isinstance(r, Unpriced)}


def test_tap_on_is_charged_the_operators_flat_fare_for_the_devices_mode() -> None:
    results = price_flat(
        taps("""
            t1  card-ann  on  metro-gate-1
            t2  card-ann  on  bus-front-1
            t3  card-kim  on  ferry-pier-1
        """),
        CONTEXT,
    )
    assert results == [
        charged("t1", "op-metro", "issuer-sgd", "card-ann", Money(190, "SGD")),
        charged("t2", "op-bus", "issuer-sgd", "card-ann", Money(120, "SGD")),
        charged("t3", "op-ferry", "issuer-krw", "card-kim", Money(1350, "KRW")),
    ]


def test_the_fare_follows_the_devices_mode_not_just_its_operator() -> None:
    """op-metro charges its metro fare at the gate and has no bus fare at all."""
    results = price_flat(
        taps("""
            t1  card-ann  on  metro-gate-1
            t2  card-ann  on  metro-bus-9
        """),
        CONTEXT,
    )
    assert isinstance(results[0], Charge)
    assert results[0].amount == Money(190, "SGD")
    assert reasons(results) == {"t2": UnpricedReason.NO_FARE}


def test_tap_off_is_free_and_yields_nothing() -> None:
    results = price_flat(
        taps("""
            t1  card-ann  on   metro-gate-1
            t2  card-ann  off  metro-gate-1
            t3  card-bo   off  bus-front-1
            t4  card-bo   on   bus-front-1
            t5  card-bo   off  bus-front-1
        """),
        CONTEXT,
    )
    assert [r.tap_id for r in results] == ["t1", "t4"]
    assert all(isinstance(r, Charge) for r in results)


def test_a_tap_off_is_free_even_where_no_fare_or_medium_is_known() -> None:
    results = price_flat(
        taps("""
            t1  card-nobody  off  metro-bus-9
            t2  card-kim     off  bus-front-1
        """),
        CONTEXT,
    )
    assert results == []


def test_missing_fare_is_unpriced_never_zero() -> None:
    (result,) = price_flat(taps("t1  card-ann  on  metro-bus-9"), CONTEXT)
    assert isinstance(result, Unpriced)
    assert result.reason is UnpricedReason.NO_FARE
    assert "op-metro" in result.detail
    assert "bus" in result.detail


def test_a_fare_loaded_as_zero_is_a_charge_not_a_missing_fare() -> None:
    (result,) = price_flat(taps("t1  card-ann  on  bus-tram-2"), CONTEXT)
    assert result == charged("t1", "op-bus", "issuer-sgd", "card-ann", Money(0, "SGD"))


def test_unknown_medium_is_unpriced() -> None:
    (result,) = price_flat(taps("t1  card-nobody  on  metro-gate-1"), CONTEXT)
    assert isinstance(result, Unpriced)
    assert result.reason is UnpricedReason.UNKNOWN_MEDIUM
    assert "card-nobody" in result.detail


def test_issuer_holding_another_currency_is_a_currency_mismatch() -> None:
    results = price_flat(
        taps("""
            t1  card-kim  on  metro-gate-1
            t2  card-ann  on  ferry-pier-1
        """),
        CONTEXT,
    )
    assert reasons(results) == {
        "t1": UnpricedReason.CURRENCY_MISMATCH,
        "t2": UnpricedReason.CURRENCY_MISMATCH,
    }
    mismatch = results[0]
    assert isinstance(mismatch, Unpriced)
    assert "SGD" in mismatch.detail
    assert "KRW" in mismatch.detail


def test_one_rider_day_mixes_charges_and_unpriced_taps_in_tap_order() -> None:
    results = price_flat(
        taps("""
            t1  card-ann     on   metro-gate-1
            t2  card-ann     off  metro-gate-1
            t3  card-nobody  on   bus-front-1
            t4  card-ann     on   metro-bus-9
            t5  card-ann     on   ferry-pier-1
            t6  card-bo      on   bus-front-1
        """),
        CONTEXT,
    )
    assert [r.tap_id for r in results] == ["t1", "t3", "t4", "t5", "t6"]
    assert reasons(results) == {
        "t3": UnpricedReason.UNKNOWN_MEDIUM,
        "t4": UnpricedReason.NO_FARE,
        "t5": UnpricedReason.CURRENCY_MISMATCH,
    }
    amounts = [r.amount for r in results if isinstance(r, Charge)]
    assert amounts == [Money(190, "SGD"), Money(120, "SGD")]


TAP_LINES = st.tuples(
    st.sampled_from([*MEDIA, "card-nobody"]),
    st.sampled_from(["on", "off"]),
    st.sampled_from(sorted(DEVICES)),
)


@given(st.lists(TAP_LINES, max_size=30))
def test_every_tap_on_gets_exactly_one_answer_and_no_charge_is_invented(
    lines: list[tuple[str, str, str]],
) -> None:
    script = "\n".join(f"t{i} {m} {d} {dev}" for i, (m, d, dev) in enumerate(lines))
    tap_list = taps(script) if lines else []
    results = price_flat(tap_list, CONTEXT)
    assert [r.tap_id for r in results] == [t.tap_id for t in tap_list if t.direction == "on"]
    by_id = {t.tap_id: t for t in tap_list}
    for result in results:
        if isinstance(result, Charge):
            tap = by_id[result.tap_id]
            assert result.amount == FARES[(tap.operator_id, CONTEXT.device_modes[tap.device_id])]
            assert ISSUER_CURRENCIES[MEDIA[tap.medium_token]] == result.amount.currency
    assert price_flat(tap_list, CONTEXT) == results, "pricing must be a pure function"
