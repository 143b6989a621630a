"""WalletService over real mTLS on both databases: accounts, proxies, top-ups,
balances, ownership, virtual cards and journeys."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from clearing.pki import PkiLayout
from farebridge.codecs.emvco import parse_payload
from farebridge.v1 import common_pb2, registry_service_pb2, registry_service_pb2_grpc
from readers import TAP_DIRECTION_ON, Reader
from wallets import email, phone

from .conftest import METRO, METRO_FARE, PAYROUTE, TAPWALLET, World, error_field, status_of


def test_open_account_is_idempotent(world: World) -> None:
    client = world.wallet(TAPWALLET)
    first = client.open_account("ana", "adult")
    again = client.open_account("ana", "adult", "SGD")
    assert again == first
    assert (first.issuer_id, first.currency) == (TAPWALLET, "SGD")
    assert first.medium_token.startswith("rt-")
    with pytest.raises(grpc.RpcError) as refused:
        client.open_account("ana", "senior")
    assert status_of(refused) == grpc.StatusCode.ALREADY_EXISTS
    assert error_field(refused) == "rider_category"


def test_a_proxy_names_one_account_across_providers(world: World) -> None:
    tapwallet, payroute = world.wallet(TAPWALLET), world.wallet(PAYROUTE)
    tapwallet.open_account("ana", "adult")
    payroute.open_account("ben", "adult")
    linked = tapwallet.link_proxy("ana", phone("+65 9123-4567"))
    assert linked.value == "+6591234567"
    assert tapwallet.link_proxy("ana", phone("+6591234567")) == linked
    with pytest.raises(grpc.RpcError) as taken:
        payroute.link_proxy("ben", phone("+65 (9123) 4567"))
    assert status_of(taken) == grpc.StatusCode.ALREADY_EXISTS
    assert error_field(taken) == "proxy"
    assert TAPWALLET not in (taken.value.details() or "")  # type: ignore[attr-defined]

    resolved = payroute.resolve_proxy(phone("+6591234567"))
    assert (resolved.issuer_id, resolved.account_id) == (TAPWALLET, "ana")
    payroute.link_proxy("ben", email(" Ben@Example.COM "))
    assert payroute.resolve_proxy(email("ben@example.com")).account_id == "ben"


def test_unlinked_proxies_resolve_no_more(world: World) -> None:
    tapwallet, payroute = world.wallet(TAPWALLET), world.wallet(PAYROUTE)
    tapwallet.open_account("ana", "adult")
    tapwallet.link_proxy("ana", email("ana@example.com"))
    with pytest.raises(grpc.RpcError) as foreign:
        payroute.unlink_proxy(email("ana@example.com"))
    assert status_of(foreign) == grpc.StatusCode.NOT_FOUND
    assert tapwallet.unlink_proxy(email("ana@example.com")) == "ana"
    with pytest.raises(grpc.RpcError) as gone:
        payroute.resolve_proxy(email("ana@example.com"))
    assert status_of(gone) == grpc.StatusCode.NOT_FOUND


def test_a_malformed_proxy_is_refused(world: World) -> None:
    client = world.wallet(TAPWALLET)
    client.open_account("ana", "adult")
    for proxy in (phone("91234567"), email("not-an-address")):
        with pytest.raises(grpc.RpcError) as refused:
            client.link_proxy("ana", proxy)
        assert status_of(refused) == grpc.StatusCode.INVALID_ARGUMENT


def test_top_ups_are_idempotent_and_a_different_amount_posts_nothing(world: World) -> None:
    client = world.wallet(TAPWALLET)
    client.open_account("ana", "adult")
    first = client.top_up("topup-1", "ana", 2000, "SGD", source="app")
    assert client.top_up("topup-1", "ana", 2000, "SGD", source="app") == first
    posted = world.transfer_count()
    with pytest.raises(grpc.RpcError) as refused:
        client.top_up("topup-1", "ana", 5000, "SGD", source="app")
    assert status_of(refused) == grpc.StatusCode.ALREADY_EXISTS
    assert error_field(refused) == "amount"
    assert world.transfer_count() == posted
    client.top_up("topup-2", "ana", 550, "SGD", source="metro-ticket-machine-7")
    balance = client.balance("ana").balance
    assert (balance.minor_units, balance.currency) == (2550, "SGD")


def test_a_nul_in_a_top_up_id_is_refused_by_name_and_posts_nothing(world: World) -> None:
    client = world.wallet(TAPWALLET)
    client.open_account("ana", "adult")
    with pytest.raises(grpc.RpcError) as refused:
        client.top_up("topup-\x00-1", "ana", 100, "SGD")
    assert status_of(refused) == grpc.StatusCode.INVALID_ARGUMENT
    assert "top_up_id" in (refused.value.details() or "")  # type: ignore[attr-defined]
    assert world.transfer_count() == 0


def test_a_top_up_in_another_currency_is_refused(world: World) -> None:
    client = world.wallet(TAPWALLET)
    client.open_account("ana", "adult")
    with pytest.raises(grpc.RpcError) as refused:
        client.top_up("topup-1", "ana", 100, "MYR")
    assert status_of(refused) == grpc.StatusCode.INVALID_ARGUMENT
    assert world.transfer_count() == 0


def test_a_provider_cannot_reach_another_providers_account(world: World) -> None:
    world.wallet(PAYROUTE).open_account("ben", "adult")
    intruder = world.wallet(TAPWALLET)
    calls = (
        lambda: intruder.balance("ben"),
        lambda: intruder.top_up("steal-1", "ben", 100, "SGD"),
        lambda: intruder.journeys("ben"),
        lambda: intruder.open_account("ben", "adult"),
        lambda: intruder.link_proxy("ben", phone("+6590000000")),
    )
    for call in calls:
        with pytest.raises(grpc.RpcError) as refused:
            call()
        assert status_of(refused) == grpc.StatusCode.PERMISSION_DENIED


def test_operators_may_not_call_the_wallet_service(world: World) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        world.wallet(METRO).open_account("sneaky", "adult")
    assert status_of(refused) == grpc.StatusCode.PERMISSION_DENIED


def test_top_up_qr_is_a_dynamic_emvco_payload(world: World) -> None:
    client = world.wallet(TAPWALLET)
    client.open_account("ana", "adult")
    text = client.top_up_qr(
        "ana", 2000, "SGD", "topup-8f3a", merchant_city="Singapore", country_code="SG"
    )
    payload = parse_payload(text)
    assert payload.is_dynamic
    assert (payload.amount_minor, payload.currency) == (2000, "SGD")
    assert payload.template("26") == {
        "00": "io.farebridge",
        "01": "T1",
        "02": TAPWALLET,
        "03": "ana",
    }
    assert payload.template("62") == {"01": "topup-8f3a"}


def _gate_reader(world: World, pki: PkiLayout, state: Path) -> Reader:
    reader = Reader("metro-gate-1", state, world.server_connection(METRO))
    device = registry_service_pb2.Device(
        device_id="metro-gate-1",
        public_key=reader.public_key,
        stop_id="central",
        mode=common_pb2.TRANSIT_MODE_METRO,
    )
    registry_service_pb2_grpc.RegistryServiceStub(world.channel(METRO)).RegisterDevice(
        registry_service_pb2.RegisterDeviceRequest(device=device)
    )
    return reader


def test_taps_of_the_account_and_its_card_are_its_journeys(
    world: World, pki: PkiLayout, tmp_path: Path
) -> None:
    client = world.wallet(TAPWALLET)
    account = client.open_account("ana", "adult")
    card = client.provision_virtual_card("ana", "card-1", "04A1B2C3D4E5F6")
    assert client.provision_virtual_card("ana", "card-1", "04a1b2c3d4e5f6") == card
    client.top_up("topup-1", "ana", 1000, "SGD")
    client.top_up("topup-2", "ana", 500, "SGD", card_id="card-1")
    with _gate_reader(world, pki, tmp_path / "reader") as reader:
        reader.tap(account.medium_token, TAP_DIRECTION_ON)
        reader.tap(card.medium_token, TAP_DIRECTION_ON)
        reader.upload()

    taps = client.journeys("ana")
    assert [t.medium_token for t in taps] == [account.medium_token, card.medium_token]
    for tap in taps:
        assert [(f.operator_id, f.amount.minor_units) for f in tap.fares] == [(METRO, METRO_FARE)]
        assert tap.total.minor_units == METRO_FARE
    balances = client.balance("ana")
    assert balances.balance.minor_units == 1000 - METRO_FARE
    assert [(c.card_id, c.balance.minor_units) for c in balances.cards] == [
        ("card-1", 500 - METRO_FARE)
    ]
