"""Properties of clearing over random days: several operators, issuers and
currencies, fares re-priced late across cycle boundaries, FX and fees."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import NamedTuple

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from clearing.errors import NothingToCloseError
from clearing.ledger import AccountCode, AccountRef, Posting, transfer_id_for
from clearing.settlement import (
    CycleSummary,
    FeeSchedule,
    FxRate,
    bridge,
    clearing_house_id,
    close_cycle,
    convert,
    cycle_summary,
    fee_amount,
    net_sums,
    post_chains,
    publish_rates,
    round_half_up,
    set_fee_schedule,
)
from clearing.storage import Database
from clearing.storage.models import CycleTransferRow, LedgerTransferRow
from clearing.values import Money
from tests.settlement.conftest import HOUR, ISSUERS, MEDIA, OPERATORS, START, populate

MYR_TO_SGD = FxRate("MYR", "SGD", Decimal("0.2953"))
SGD_TO_MYR = FxRate("SGD", "MYR", Decimal("3.3863"))


class Fare(NamedTuple):
    """A charge as the pricer posts it: ``amounts`` is what it was worth
    after each re-pricing (a late tap changes it), posted as differences."""

    charge_id: str
    medium: str
    operator: str
    amounts: tuple[int, ...]
    hours: tuple[int, ...]  # when each re-pricing was committed, from START


fares = st.builds(
    lambda n, medium, operator, amounts, first, lags: Fare(
        f"c{n}", medium, operator, tuple(amounts),
        tuple(first + sum(lags[: i + 1]) for i in range(len(amounts))),
    ),
    st.integers(0, 10**6), st.sampled_from(sorted(MEDIA)), st.sampled_from(sorted(OPERATORS)),
    st.lists(st.integers(0, 900), min_size=1, max_size=3),
    st.integers(0, 20), st.lists(st.integers(0, 14), min_size=3, max_size=3),
)  # fmt: skip
days = st.lists(fares, min_size=1, max_size=12, unique_by=lambda f: f.charge_id)
cut_offs = st.lists(st.integers(1, 60), min_size=1, max_size=4, unique=True).map(sorted)


def _postings(fare: Fare, house: str, before: int, after: int) -> list[Posting]:
    issuer = MEDIA[fare.medium]
    funds, currency = ISSUERS[issuer], OPERATORS[fare.operator]
    rider = AccountRef(issuer, AccountCode.RIDER_FUNDS, funds, fare.medium)
    revenue = AccountRef(fare.operator, AccountCode.FARE_REVENUE, currency)
    delta = after - before
    posting = Posting(
        transfer_id_for("fare", f"{fare.charge_id}|{before}>{after}"),
        rider if delta > 0 else revenue, revenue if delta > 0 else rider,
        Money(abs(delta), currency), "fare" if delta > 0 else "fare_adjustment", fare.charge_id,
    )  # fmt: skip
    if funds == currency:
        return [posting]
    rate = MYR_TO_SGD if currency == "MYR" else SGD_TO_MYR
    return bridge(posting, convert(posting.amount, rate), house)


def _play(database: Database, day: list[Fare], cuts: list[int]) -> list[int]:
    """Posts every re-pricing at its hour, closing a cycle at each cut-off
    once the clock passes it; answers the cycle numbers closed."""
    events = sorted(
        (hour, index, fare, step)
        for index, fare in enumerate(day)
        for step, hour in enumerate(fare.hours)
    )
    with database.transaction() as session:
        publish_rates(session, [MYR_TO_SGD, SGD_TO_MYR], START)
        house = clearing_house_id(session)
    closed: list[int] = []
    pending_cuts = list(cuts)
    for hour, _, fare, step in [*events, (10**6, 0, None, 0)]:
        while pending_cuts and pending_cuts[0] <= hour:
            cut = START + pending_cuts.pop(0) * HOUR
            closed += _close(database, f"cycle-{cut.isoformat()}", cut)
        if fare is None:
            break
        before = fare.amounts[step - 1] if step else 0
        if fare.amounts[step] != before:
            with database.transaction() as session:
                chain = _postings(fare, house, before, fare.amounts[step])
                post_chains(session, [chain], START + hour * HOUR)
    return closed + _close(database, "final", START + 200 * HOUR)


def _close(database: Database, close_id: str, at: datetime) -> list[int]:
    try:
        with database.transaction() as session:
            return [
                close_cycle(session, close_id, at + timedelta(minutes=1), cut_off=at).cycle_number
            ]
    except NothingToCloseError:
        return []


@given(day=days, cuts=cut_offs)
def test_clearing_is_exact_across_cycles(
    tmp_path_factory: pytest.TempPathFactory, day: list[Fare], cuts: list[int]
) -> None:
    """On a fresh SQLite database per example (PostgreSQL runs the same code
    in the examples below and in tests/settlement/test_over_mtls.py)."""
    database = Database(f"sqlite:///{tmp_path_factory.mktemp('day') / 'farebridge.db'}")
    database.migrate()
    populate(database)
    try:
        _check_day(database, day, cuts)
    finally:
        database.dispose()


def _check_day(database: Database, day: list[Fare], cuts: list[int]) -> None:
    closed = _play(database, day, cuts)
    with database.transaction() as session:
        summaries = [cycle_summary(session, n) for n in closed]
        cleared = Counter(session.scalars(select(CycleTransferRow.transfer_id)))
        stored = session.scalar(select(func.count()).select_from(LedgerTransferRow))
    assert set(cleared.values()) <= {1}, "a transfer was cleared twice"
    assert sum(cleared.values()) == stored, "a transfer was never cleared"
    earned: defaultdict[tuple[str, str], int] = defaultdict(int)
    for summary in summaries:
        assert all(total == 0 for total in net_sums(summary.positions).values())
        for position in summary.positions:
            earned[(position.participant_id, position.currency)] += position.net
        for instruction in summary.instructions:
            sign = 1 if instruction.direction.value == "pay_in" else -1
            key = (instruction.participant_id, instruction.currency)
            position = next(p for p in summary.positions if (p.participant_id, p.currency) == key)
            assert sign * instruction.amount == -position.net
    for operator, currency in OPERATORS.items():
        final = sum(f.amounts[-1] for f in day if f.operator == operator)
        assert earned.get((operator, currency), 0) == final, (
            "adjustments in later cycles must cancel the earlier error exactly"
        )


@given(
    gross=st.integers(-(10**9), 10**9), count=st.integers(0, 10**5),
    bps=st.integers(0, 10_000), per=st.integers(0, 500),
)  # fmt: skip
def test_fees_round_half_up_once(gross: int, count: int, bps: int, per: int) -> None:
    fee = fee_amount(gross, count, FeeSchedule("p", "SGD", bps, per))
    exact = Fraction(gross * bps, 10_000)
    assert abs(fee - count * per - exact) <= Fraction(1, 2)
    assert round_half_up(Fraction(5, 2)) == 3
    assert round_half_up(Fraction(-5, 2)) == -3


@given(amount=st.integers(1, 10**9))
def test_conversion_is_exact_then_rounded_once(amount: int) -> None:
    converted = convert(Money(amount, "MYR"), MYR_TO_SGD)
    assert converted.currency == "SGD"
    assert abs(converted.minor_units - Fraction(amount) * Fraction("0.2953")) <= Fraction(1, 2)
    won = convert(Money(amount, "SGD"), FxRate("SGD", "KRW", Decimal("1020.5")))
    assert abs(won.minor_units - Fraction(amount) * Fraction("10.205")) <= Fraction(1, 2)


def test_fees_are_posted_and_cleared_in_the_cycle(database: Database) -> None:
    fare = Fare("c1", "ezlink-0", "smrt", (1000,), (1,))
    with database.transaction() as session:
        set_fee_schedule(session, FeeSchedule("smrt", "SGD", 25, 2), START)
        set_fee_schedule(session, FeeSchedule("ezlink", "SGD", 10, 0), START)
    _play(database, [fare], [])
    with database.transaction() as session:
        summary = cycle_summary(session, 1)
    fees = {f.participant_id: f.amount for f in summary.fees}
    assert fees == {"smrt": 3 + 2, "ezlink": 1}  # 2.5 rounds half up to 3
    nets = {(p.participant_id, p.currency): p.net for p in summary.positions}
    assert nets[("smrt", "SGD")] == 1000 - 5
    assert nets[("clearing-house", "SGD")] == 6


def test_a_late_adjustment_clears_in_the_next_cycle(database: Database) -> None:
    """A fare of 900 MYR-cents, cut to 500 by a tap that arrives after the
    cut-off: cycle 1 clears 900, cycle 2 the -400, never reopening cycle 1."""
    fare = Fare("c1", "ezlink-0", "rapidkl", (900, 500), (1, 5))
    assert _play(database, [fare], [3]) == [1, 2]
    with database.transaction() as session:
        first, second = cycle_summary(session, 1), cycle_summary(session, 2)

    def net(summary: CycleSummary, who: str, currency: str) -> int:
        return next(
            p.net for p in summary.positions if (p.participant_id, p.currency) == (who, currency)
        )

    assert net(first, "rapidkl", "MYR") == 900
    assert net(second, "rapidkl", "MYR") == -400
    assert net(first, "ezlink", "SGD") == -convert(Money(900, "MYR"), MYR_TO_SGD).minor_units
    assert net(first, "clearing-house", "MYR") == -900, "the house's FX account pays the operator"
