"""A simulated city that drives farebridge through its public interfaces:
operators with readers, card issuers and wallet providers with their riders'
media, a day of demand with faults, and a clearing house that closes it."""

from simulators._checks import Books, Check
from simulators._city import (
    City,
    Device,
    Issuer,
    Line,
    MediumKind,
    Operator,
    Rider,
    Station,
    build_city,
)
from simulators._day import DayPlan, plan_day
from simulators._run import SimulationResult, SimulationSettings, simulate

__all__ = [
    "Books",
    "Check",
    "City",
    "DayPlan",
    "Device",
    "Issuer",
    "Line",
    "MediumKind",
    "Operator",
    "Rider",
    "SimulationResult",
    "SimulationSettings",
    "Station",
    "build_city",
    "plan_day",
    "simulate",
]
