"""Ride credentials, the trust list and the versioned deny list, from the
wallet provider's call to the reader's gate, over real mTLS on both databases."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import grpc
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from farebridge.codecs import public_key_bytes
from farebridge.codecs.ridecode import (
    CredentialId,
    DenyList,
    RejectReason,
    RideCodeRejectedError,
    check_code,
    generate_code,
    open_deny_list,
    open_trust_list,
)
from farebridge.v1 import reader_service_pb2
from wallets import RideCodeWallet

from .conftest import (
    CLEARING_HOUSE,
    METRO,
    PAYROUTE,
    TAPWALLET,
    World,
    error_field,
    in_a_year,
    status_of,
)


def _deny_list(
    world: World, since: int, caller: str = METRO
) -> reader_service_pb2.GetDenyListResponse:
    request = reader_service_pb2.GetDenyListRequest(since_version=since)
    return world.lists(caller).GetDenyList(request)


def test_block_and_unblock_reach_operators_as_deltas(world: World) -> None:
    client = world.wallet(TAPWALLET)
    token = client.open_account("ana", "adult").medium_token
    start = _deny_list(world, 0).version

    blocked_at = client.block_medium(token, "phone reported stolen")
    assert blocked_at == start + 1
    assert client.block_medium(token, "reported twice") == blocked_at  # nothing changed
    delta = _deny_list(world, start)
    assert delta.version == blocked_at
    assert [e.rider_token for e in delta.added] == [token]
    assert list(delta.removed) == []

    unblocked_at = client.unblock_medium(token, "phone found")
    assert unblocked_at == blocked_at + 1
    delta = _deny_list(world, blocked_at)
    assert (delta.version, list(delta.added)) == (unblocked_at, [])
    assert [e.rider_token for e in delta.removed] == [token]
    assert _deny_list(world, unblocked_at).version == unblocked_at


def test_the_whole_deny_list_is_signed_by_the_clearing_house(world: World) -> None:
    client = world.wallet(TAPWALLET)
    token = client.open_account("ana", "adult").medium_token
    client.block_medium(token, "stolen")
    answer = _deny_list(world, 0, caller=CLEARING_HOUSE)
    whole = open_deny_list(answer.signed_snapshot, world.clearing_house_key)
    assert (whole.version, whole.rider_tokens) == (answer.version, frozenset({token}))
    assert _deny_list(world, answer.version).signed_snapshot == b""


def test_providers_block_only_their_own_media(world: World) -> None:
    token = world.wallet(PAYROUTE).open_account("ben", "adult").medium_token
    with pytest.raises(grpc.RpcError) as refused:
        world.wallet(TAPWALLET).block_medium(token, "not mine")
    assert status_of(refused) == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.RpcError) as unknown:
        world.wallet(TAPWALLET).block_credential(77, "never issued")
    assert status_of(unknown) == grpc.StatusCode.NOT_FOUND


def test_only_operators_and_the_house_download_lists(world: World) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        world.lists(TAPWALLET).GetTrustList(reader_service_pb2.GetTrustListRequest())
    assert status_of(refused) == grpc.StatusCode.PERMISSION_DENIED


def test_a_version_ahead_of_the_list_is_refused(world: World) -> None:
    with pytest.raises(grpc.RpcError) as refused:
        _deny_list(world, 99)
    assert status_of(refused) == grpc.StatusCode.INVALID_ARGUMENT


def test_the_trust_list_carries_each_issuers_credential_key(world: World) -> None:
    stub = world.lists(METRO)
    empty = stub.GetTrustList(reader_service_pb2.GetTrustListRequest())
    assert open_trust_list(empty.signed_trust_list, world.clearing_house_key).issuers == {}
    client = world.wallet(TAPWALLET)
    client.open_account("ana", "adult")
    phone_key = Ed25519PrivateKey.generate()
    credential = client.issue_ride_credential("ana", public_key_bytes(phone_key), in_a_year(), 1)

    answer = stub.GetTrustList(reader_service_pb2.GetTrustListRequest())
    trust_list = open_trust_list(answer.signed_trust_list, world.clearing_house_key)
    assert answer.version == trust_list.version == empty.version + 1
    assert set(trust_list.issuers) == {TAPWALLET}
    now = datetime.now(UTC)
    code = generate_code(credential, phone_key, now, 1)
    assert check_code(code, trust_list, DenyList(version=0), now).issuer_id == TAPWALLET


def test_a_retried_credential_is_the_same_and_a_changed_one_is_refused(world: World) -> None:
    client = world.wallet(TAPWALLET)
    account = client.open_account("ana", "child")
    phone_key = public_key_bytes(Ed25519PrivateKey.generate())
    expiry = in_a_year()
    first = client.issue_ride_credential("ana", phone_key, expiry, 7)
    assert (first.rider_token, first.category) == (account.medium_token, "child")
    assert client.issue_ride_credential("ana", phone_key, expiry, 7) == first
    other_key = public_key_bytes(Ed25519PrivateKey.generate())
    with pytest.raises(grpc.RpcError) as refused:
        client.issue_ride_credential("ana", other_key, expiry, 7)
    assert status_of(refused) == grpc.StatusCode.ALREADY_EXISTS
    assert error_field(refused) == "rider_public_key"


def test_a_phone_code_opens_a_synced_gate_until_its_credential_is_blocked(
    world: World, tmp_path: Path
) -> None:
    client = world.wallet(TAPWALLET)
    account = client.open_account("ana", "adult")
    phone_key = Ed25519PrivateKey.generate()
    credential = client.issue_ride_credential("ana", public_key_bytes(phone_key), in_a_year(), 42)
    phone = RideCodeWallet(credential, phone_key, tmp_path / "ride-codes.json")

    sync = world.list_sync()
    gate = sync.new_gate()
    ride = gate.admit(phone.next_code())
    assert (ride.rider_token, ride.issuer_id, ride.serial) == (account.medium_token, TAPWALLET, 42)

    version = client.block_credential(42, "phone lost")
    report = sync.refresh(gate)
    assert (report.deny_list_version, report.added, report.removed) == (version, 1, 0)
    assert gate.deny_list.serials == frozenset({CredentialId(TAPWALLET, 42)})
    with pytest.raises(RideCodeRejectedError) as denied:
        gate.admit(phone.next_code())
    assert denied.value.reason == RejectReason.DENIED

    client.unblock_credential(42, "phone found")
    assert sync.refresh(gate).removed == 1
    assert gate.admit(phone.next_code()).serial == 42
