"""Scan to pay: a rider scans the static QR on a bus without readers, and
the wallet provider's call turns it into a tap for that operator and route."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import grpc
import pytest

from farebridge.codecs.emvco import vehicle_qr
from farebridge.v1 import reader_service_pb2, wallet_service_pb2, wallet_service_pb2_grpc

from .conftest import BUS, BUS_FARE, CARDS, WALLET, RawDevice, World, books, register_device

W = wallet_service_pb2


def wallet(world: World, issuer: str = WALLET) -> wallet_service_pb2_grpc.WalletServiceStub:
    return wallet_service_pb2_grpc.WalletServiceStub(world.channel(issuer))


@pytest.fixture
def jeepney(world: World) -> str:
    """Bus 17 on route R12: registered by its operator, with no reader."""
    register_device(world, "bus-17", RawDevice("bus-17").public_key, BUS, 2, "R12")
    wallet(world).OpenAccount(
        W.OpenAccountRequest(account_id="ann", currency="SGD", rider_category="adult")
    )
    return vehicle_qr(
        BUS, "R12", "bus-17", merchant_name="City Bus", merchant_city="Singapore",
        country="SG", currency="SGD",
    )  # fmt: skip


SCANNED = datetime.now(UTC) - timedelta(minutes=1)


def scan(world: World, qr: str, at: datetime = SCANNED) -> W.ScanToPayResponse:
    request = W.ScanToPayRequest(scan_id="scan-1", account_id="ann", vehicle_qr=qr)
    request.scanned_at.FromDatetime(at)
    return wallet(world).ScanToPay(request)


def code(error: pytest.ExceptionInfo[grpc.RpcError]) -> grpc.StatusCode:
    status = error.value.code()  # type: ignore[attr-defined]
    assert isinstance(status, grpc.StatusCode)
    return status


def test_a_scan_becomes_a_priced_tap_and_a_retry_charges_nothing_more(
    world: World, jeepney: str
) -> None:
    first = scan(world, jeepney)
    assert (first.operator_id, first.route_id, first.vehicle_id) == (BUS, "R12", "bus-17")
    assert first.status == reader_service_pb2.TAP_STATUS_ACCEPTED
    again = scan(world, jeepney)
    assert again.status == reader_service_pb2.TAP_STATUS_DUPLICATE
    assert books(world).tap_ids == {"scan-1"}
    assert books(world).fare_total == BUS_FARE
    with pytest.raises(grpc.RpcError) as caught:
        scan(world, jeepney, SCANNED + timedelta(seconds=5))
    assert code(caught) == grpc.StatusCode.ALREADY_EXISTS, "one scan id, one scan"


def test_a_qr_of_no_registered_vehicle_or_no_vehicle_at_all_is_refused(
    world: World, jeepney: str
) -> None:
    ghost = vehicle_qr(
        BUS, "R12", "bus-99", merchant_name="City Bus", merchant_city="Singapore",
        country="SG", currency="SGD",
    )  # fmt: skip
    with pytest.raises(grpc.RpcError) as caught:
        scan(world, ghost)
    assert code(caught) == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as caught:
        scan(world, "000201not-a-qr")
    assert code(caught) == grpc.StatusCode.INVALID_ARGUMENT
    assert books(world).tap_ids == set()


def test_a_provider_cannot_scan_for_another_providers_rider(world: World, jeepney: str) -> None:
    request = W.ScanToPayRequest(scan_id="s", account_id="ann", vehicle_qr=jeepney)
    request.scanned_at.FromDatetime(datetime.now(UTC))
    with pytest.raises(grpc.RpcError) as caught:
        wallet(world, CARDS).ScanToPay(request)
    assert code(caught) == grpc.StatusCode.PERMISSION_DENIED
