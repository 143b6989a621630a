"""Period pricing over the wire: taps arriving late, out of order or twice
re-price the rider's capping period, and the ledger receives only the
difference, so the books end the same whatever the arrival order."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

import clearing.fares
from clearing.pki import PkiLayout
from clearing.server import ServerSettings, start_server
from clearing.storage import Database
from clearing.storage.models import FarePostingRow, LedgerAccountRow, LedgerTransferRow
from farebridge.v1 import clearing_service_pb2, common_pb2

from .conftest import RawDevice, World, admit, issue_media, register_device, submit, tap

DEMO_CITY = Path(clearing.fares.__file__).parent / "configs" / "demo-city"
ON, OFF = common_pb2.TAP_DIRECTION_ON, common_pb2.TAP_DIRECTION_OFF
OPERATOR = "metro-co"  # the tariff's agency_id for the metro
# A fixed past service day, so that no trip straddles the 04:00 day start.
DAY = datetime(2026, 6, 24, 6, 0, tzinfo=UTC)  # 08:00 in Berlin


@pytest.fixture
def city(pki: PkiLayout, database_url: str, tmp_path: Path) -> Iterator[World]:
    """The demo city's tariff (EUR, zones, a 7.00 daily cap) on a live server:
    metro gates at Central (zone 1) and North (zone 2)."""
    server = start_server(
        ServerSettings(
            database_url=database_url, pki_dir=pki.directory, listen="127.0.0.1:0",
            clearing_house_id="clearing-house", currency="EUR", tariff_dir=DEMO_CITY,
        )
    )  # fmt: skip
    world = World(f"localhost:{server.port}", pki, database_url, tmp_path)
    try:
        admit(world, OPERATOR, common_pb2.PARTICIPANT_ROLE_OPERATOR, "EUR")
        admit(world, "cards", common_pb2.PARTICIPANT_ROLE_ISSUER, "EUR")
        issue_media(world, "cards", "ann", "bob")
        yield world
    finally:
        world.close()
        server.stop(grace=None)


def gates(world: World) -> tuple[RawDevice, RawDevice]:
    central, north = RawDevice("central"), RawDevice("north")
    for gate in (central, north):
        mode = common_pb2.TRANSIT_MODE_METRO
        register_device(world, gate.device_id, gate.public_key, OPERATOR, mode, gate.device_id)
    return central, north


def revenue(world: World, operator: str = OPERATOR) -> int:
    """What the operator has been credited, net of refunds, in cents."""
    database = Database(world.database_url)
    try:
        with database.transaction() as session:
            account = select(LedgerAccountRow.account_id).where(
                LedgerAccountRow.participant_id == operator,
                LedgerAccountRow.code == "fare_revenue",  # not the close's settlement
            )
            credited = session.scalar(
                select(func.coalesce(func.sum(LedgerTransferRow.amount), 0)).where(
                    LedgerTransferRow.credit_account_id.in_(account)
                )
            )
            debited = session.scalar(
                select(func.coalesce(func.sum(LedgerTransferRow.amount), 0)).where(
                    LedgerTransferRow.debit_account_id.in_(account)
                )
            )
            return int(credited or 0) - int(debited or 0)
    finally:
        database.dispose()


def postings(world: World) -> int:
    database = Database(world.database_url)
    try:
        with database.transaction() as session:
            return int(session.scalar(select(func.count()).select_from(FarePostingRow)) or 0)
    finally:
        database.dispose()


def test_a_tap_off_arriving_later_turns_the_held_fare_into_the_journey_fare(city: World) -> None:
    central, north = gates(city)
    start = datetime.now(UTC) - timedelta(minutes=30)  # the tap-off may still come
    submit(city, OPERATOR, central.batch(tap("ann-on", "ann", ON, 1, start)))
    assert revenue(city) == 200, "the one-zone fare is held while the tap-off may come"
    tap_off = tap("ann-off", "ann", OFF, 1, start + timedelta(minutes=20))
    submit(city, OPERATOR, north.batch(tap_off))
    assert revenue(city) == 300, "central to north crosses two zones"


def test_arrival_order_and_retries_do_not_change_the_books(city: World) -> None:
    central, north = gates(city)
    start = DAY

    def on(rider: str, n: int) -> tuple[RawDevice, object]:
        return central, tap(f"{rider}-{n}-on", rider, ON, 2 * n + 1, start + timedelta(hours=n))

    def off(rider: str, n: int) -> tuple[RawDevice, object]:
        at = start + timedelta(hours=n, minutes=25)
        return north, tap(f"{rider}-{n}-off", rider, OFF, 2 * n + 2, at)

    trip = [make(rider, n) for make in (on, off) for rider in ("ann", "bob") for n in range(4)]
    ann = [t for t in trip if t[1].medium_token == "ann"]  # type: ignore[attr-defined]
    bob = [t for t in trip if t[1].medium_token == "bob"]  # type: ignore[attr-defined]
    for gate, message in ann:  # in order, one tap at a time
        submit(city, OPERATOR, gate.batch(message))
    for gate, message in reversed(bob):  # tap-offs first, latest first
        submit(city, OPERATOR, gate.batch(message))
    for gate, message in bob[:3]:  # and some of them again
        submit(city, OPERATOR, gate.batch(message))
    assert revenue(city) == 2 * 700, "four two-zone trips each, capped at 7.00 a day"
    settled = postings(city)
    for gate, message in ann + bob:
        submit(city, OPERATOR, gate.batch(message))
    assert postings(city) == settled, "re-pricing the same taps posts nothing"
    assert revenue(city) == 1400


def test_a_journey_never_tapped_off_is_charged_as_incomplete_when_the_cycle_closes(
    pki: PkiLayout, database_url: str, tmp_path: Path
) -> None:
    clock = [DAY + timedelta(minutes=30)]
    server = start_server(
        ServerSettings(
            database_url=database_url, pki_dir=pki.directory, listen="127.0.0.1:0",
            clearing_house_id="clearing-house", currency="EUR", tariff_dir=DEMO_CITY,
            clock=lambda: clock[0],
        )
    )  # fmt: skip
    world = World(f"localhost:{server.port}", pki, database_url, tmp_path)
    try:
        admit(world, OPERATOR, common_pb2.PARTICIPANT_ROLE_OPERATOR, "EUR")
        admit(world, "cards", common_pb2.PARTICIPANT_ROLE_ISSUER, "EUR")
        issue_media(world, "cards", "ann")
        central, _ = gates(world)
        submit(world, OPERATOR, central.batch(tap("ann-on", "ann", ON, 1, DAY)))
        assert revenue(world) == 200, "the tap-off may still come: the one-zone fare is held"
        clock[0] = DAY + timedelta(hours=5)
        close = clearing_service_pb2.CloseCycleRequest(close_id="day-1")
        world.clearing("clearing-house").CloseCycle(close)
        assert revenue(world) == 500, "closing settles it at the incomplete-journey fare"
    finally:
        world.close()
        server.stop(grace=None)
