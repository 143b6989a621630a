"""A simulated city that drives farebridge through its public interfaces:
operators with readers, issuers with media, riders who tap, and a clearing
house that closes the day."""

from simulators._city import City, Operator, Rider, Station, demo_city
from simulators._demo import DemoResult, run_demo

__all__ = ["City", "DemoResult", "Operator", "Rider", "Station", "demo_city", "run_demo"]
