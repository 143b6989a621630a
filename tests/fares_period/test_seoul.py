"""The Seoul capital area's integrated distance fare, adult card fares from
28 June 2025 (clearing/fares/configs/seoul-2025/README.md cites each rule).
"""

from __future__ import annotations

from collections.abc import Callable

from clearing.fares.period import ChargeKind, PeriodCharges, Tariff

from .conftest import Price, Script

Total = Callable[[PeriodCharges], int]


def test_subway_alone_within_10_km_pays_the_base_fare(
    seoul: Tariff, taps: Script, price: Price, total: Total
) -> None:
    ride = taps(
        seoul,
        "2025-07-01",
        """
        08:00 on  metro seoul-metro cityhall
        08:20 off metro seoul-metro gangnam
    """,
    )
    assert total(price(seoul, ride)) == 1550


def test_subway_18_km_adds_100_per_started_5_km_over_10(
    seoul: Tariff, taps: Script, price: Price
) -> None:
    # 18 km: 8 km over 10 is two started 5 km steps, +200 (Korea Times, 2023).
    ride = taps(
        seoul,
        "2025-07-01",
        """
        08:00 on  metro seoul-metro cityhall
        08:35 off metro seoul-metro jamsil
    """,
    )
    charges = price(seoul, ride)
    assert [(c.kind, c.amount.minor_units) for c in charges.charges] == [
        (ChargeKind.BASE, 1550),
        (ChargeKind.DISTANCE_SURCHARGE, 200),
    ]


def test_beyond_50_km_steps_are_8_km(
    seoul: Tariff, taps: Script, price: Price, total: Total
) -> None:
    # 41.5 km: 7 steps of 5 km (+700). 96.5 km: 8 steps to 50 km (+800) and
    # 6 started 8 km steps beyond (+600).
    near = taps(
        seoul,
        "2025-07-01",
        """
        08:00 on  metro korail seoul-station
        09:00 off metro korail suwon
    """,
    )
    far = taps(
        seoul,
        "2025-07-01",
        """
        08:00 on  metro korail seoul-station
        10:00 off metro korail cheonan
    """,
    )
    assert (total(price(seoul, near)), total(price(seoul, far))) == (2250, 2950)


def test_a_city_bus_alone_is_flat_whatever_the_distance(
    seoul: Tariff, taps: Script, price: Price, total: Total
) -> None:
    ride = taps(
        seoul,
        "2025-07-01",
        """
        08:00 on  bus seoul-bus bus-jongno  bus143
        08:40 off bus seoul-bus bus-sinchon bus143
    """,
    )
    assert total(price(seoul, ride)) == 1500


def test_bus_then_subway_pays_the_higher_base_and_the_summed_distance(
    seoul: Tariff, taps: Script, price: Price
) -> None:
    # 6 km by bus + 12 km by subway = 18 km: base 1,550 (the subway's, the
    # higher) + 200, as in the published "18 km after transfers" example.
    journey = taps(
        seoul,
        "2025-07-01",
        """
        08:00 on  bus   seoul-bus   bus-sinchon  bus7016
        08:20 off bus   seoul-bus   bus-cityhall bus7016
        08:30 on  metro seoul-metro cityhall
        08:50 off metro seoul-metro yongsan
    """,
    )
    charges = price(seoul, journey)
    base, surcharge = charges.charges
    assert (base.amount.minor_units, surcharge.amount.minor_units) == (1550, 200)
    assert base.tap_ids == ("t1", "t3")
    # Seoul's split: base by standalone fares (1,500 : 1,550), surcharge by
    # distance (6 : 12).
    assert [(s.operator_id, s.minor_units) for s in base.shares] == [
        ("seoul-bus", 762),
        ("seoul-metro", 788),
    ]
    assert [(s.operator_id, s.minor_units) for s in surcharge.shares] == [
        ("seoul-bus", 67),
        ("seoul-metro", 133),
    ]


def test_the_base_is_collected_at_tap_on_and_the_surcharge_at_tap_off(
    seoul: Tariff, taps: Script, price: Price
) -> None:
    ride = taps(
        seoul,
        "2025-07-01",
        """
        08:00 on  metro seoul-metro cityhall
        08:35 off metro seoul-metro jamsil
    """,
    )
    on_board = price(seoul, ride[:1], horizon=ride[0].at)
    assert [(c.kind, c.amount.minor_units) for c in on_board.charges] == [(ChargeKind.BASE, 1550)]


def _bus_then_subway(seoul: Tariff, taps: Script, ride: str, alight: str, board: str) -> str:
    return f"""
        {ride}   on  bus   seoul-bus   bus-sinchon  bus7016
        {alight} off bus   seoul-bus   bus-cityhall bus7016
        {board}  on  metro seoul-metro cityhall
        23:59    off metro seoul-metro gangnam
    """


def test_the_transfer_window_is_30_minutes_by_day_and_an_hour_at_night(
    seoul: Tariff, taps: Script, price: Price, total: Total
) -> None:
    # Joined: 6 + 8 = 14 km, 1,550 + 100. Not joined: the bus alone (flat)
    # and the subway alone (8 km).
    joined, apart = 1650, 1500 + 1550

    def fare(ride: str, alight: str, board: str) -> int:
        log = _bus_then_subway(seoul, taps, ride, alight, board).replace("23:59", board[:3] + "59")
        return total(price(seoul, taps(seoul, "2025-07-01", log)))

    assert fare("12:00", "12:20", "12:50") == joined
    assert fare("12:00", "12:20", "12:51") == apart
    assert fare("22:00", "22:20", "23:05") == joined
    assert fare("06:00", "06:20", "07:10") == joined  # the trip ended before 07:00
    assert fare("07:00", "07:20", "07:55") == apart


def test_at_most_four_transfers(seoul: Tariff, taps: Script, price: Price) -> None:
    rides = (
        "\n".join(
            f"""08:{n * 15:02d} on  bus seoul-bus bus-cityhall bus7016
            08:{n * 15 + 10:02d} off bus seoul-bus bus-jongno  bus7016"""
            for n in range(4)
        )
        + """
            09:00 on  bus seoul-bus bus-cityhall bus7016
            09:10 off bus seoul-bus bus-jongno  bus7016
            09:15 on  bus seoul-bus bus-cityhall bus7016
            09:25 off bus seoul-bus bus-jongno  bus7016
    """
    )
    bases = [
        c
        for c in price(seoul, taps(seoul, "2025-07-01", rides)).charges
        if c.kind is ChargeKind.BASE
    ]
    # Six bus rides five minutes apart: the first five are one journey.
    assert [len(c.tap_ids) for c in bases] == [5, 1]
