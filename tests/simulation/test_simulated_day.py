"""A small simulated day, end to end over mTLS: its books must hold, and a
day under fire (server killed, acknowledgements dropped, batches replayed
out of order, reader clocks skewed) must end in exactly the same books."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from simulators import SimulationResult, SimulationSettings, simulate

RIDERS = 60
DAY = date(2026, 3, 10)
SEED = 11


def _quiet(step: str, done: int, total: int) -> None:
    """Tests need no progress bars."""


def _day(work_dir: Path, *, faults: bool) -> SimulationResult:
    settings = SimulationSettings(RIDERS, DAY, SEED, work_dir, faults=faults, threads=8)
    return simulate(settings, _quiet)


@pytest.fixture(scope="module")
def calm(tmp_path_factory: pytest.TempPathFactory) -> SimulationResult:
    return _day(tmp_path_factory.mktemp("calm"), faults=False)


@pytest.fixture(scope="module")
def stormy(tmp_path_factory: pytest.TempPathFactory) -> SimulationResult:
    return _day(tmp_path_factory.mktemp("stormy"), faults=True)


def passed(result: SimulationResult, name: str) -> bool:
    (check,) = [c for c in result.checks if c.name == name]
    assert check.passed, f"{name}: {check.detail}"
    return check.passed


INVARIANTS = (
    "audit: ledger balances per currency",
    "audit: signed log",
    "audit: charges and taps",
    "reconciliation of every reader log",
    "no acknowledged tap lost",
    "net positions sum to zero",
)


@pytest.mark.slow
@pytest.mark.parametrize("name", INVARIANTS)
def test_the_simulated_day_keeps_every_invariant(calm: SimulationResult, name: str) -> None:
    assert passed(calm, name)


@pytest.mark.slow
def test_the_day_has_the_traffic_it_was_planned_with(calm: SimulationResult) -> None:
    tally = calm.tally
    assert tally.taps > RIDERS, "riders travel"
    assert (tally.accepted, tally.rejected, tally.duplicates) == (tally.taps, 0, 0)
    assert tally.scans > 0, "riders scan to pay on buses without readers"
    assert tally.top_ups > 0, "wallet riders top up"
    assert tally.refused_blocked >= 1, "the lost card is refused after its block"
    assert calm.plan.transfers > 0, "some journeys change lines"
    assert set(calm.books.revenue) == {"metro-co", "bus-co", "ferry-co"}
    assert sum(net for *_, net in calm.positions) == 0


@pytest.mark.slow
@pytest.mark.parametrize("name", INVARIANTS)
def test_a_day_under_fire_keeps_every_invariant(stormy: SimulationResult, name: str) -> None:
    assert passed(stormy, name)


@pytest.mark.slow
def test_a_day_under_fire_ends_in_the_books_of_a_calm_day(
    calm: SimulationResult, stormy: SimulationResult
) -> None:
    assert stormy.server_restarts == 1, "the server was killed and restarted"
    assert stormy.tally.duplicates > 0, "acknowledgements were lost and batches replayed"
    assert stormy.tally.replayed_batches > 0
    assert stormy.checkpoint_root == calm.checkpoint_root
    assert stormy.checkpoint_size == calm.checkpoint_size
    assert stormy.books == calm.books
    assert stormy.positions == calm.positions
    assert stormy.tally.taps == calm.tally.taps
