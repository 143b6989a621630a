"""Taps that carry proofs: stored-value card debits (AES-CMAC under an
AN10922-diversified key) and QR ride codes, checked again centrally."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select

from clearing.storage import Database
from clearing.storage.models import CardDebitRow, RideCodeUseRow
from farebridge.codecs import public_key_bytes
from farebridge.codecs.cards import debit_to_bytes
from farebridge.codecs.ridecode import generate_code
from farebridge.v1 import (
    reader_service_pb2,
    registry_service_pb2,
    wallet_service_pb2,
    wallet_service_pb2_grpc,
)
from simulators._card import SimulatedCard
from wallets import ride_credential

from .conftest import (
    CARDS,
    METRO,
    METRO_FARE,
    WALLET,
    RawDevice,
    World,
    books,
    register_device,
    submit,
    tap,
)

Rs = reader_service_pb2
MASTER = bytes.fromhex("00112233445566778899AABBCCDDEEFF")
AID = bytes.fromhex("3042F5")
SYSTEM = b"farebridge"


def reasons(response: reader_service_pb2.SubmitTapsResponse) -> list[str]:
    return [
        Rs.TapStatus.Name(r.status)
        if r.status != Rs.TAP_STATUS_REJECTED
        else Rs.TapRejectReason.Name(r.reject_reason)
        for r in response.results
    ]


def count(world: World, model: type) -> int:
    database = Database(world.database_url)
    try:
        with database.transaction() as session:
            return int(session.scalar(select(func.count()).select_from(model)) or 0)
    finally:
        database.dispose()


@pytest.fixture
def gate(world: World) -> RawDevice:
    device = RawDevice("metro-gate-1")
    register_device(world, device.device_id, device.public_key, METRO, 1)
    return device


@pytest.fixture
def card(world: World) -> SimulatedCard:
    """A stored-value card of issuer ``cards``, whose scheme clearing knows."""
    scheme = registry_service_pb2.CardScheme(aid=AID, system_identifier=SYSTEM, master_key=MASTER)
    world.registry(CARDS).RegisterCardScheme(
        registry_service_pb2.RegisterCardSchemeRequest(scheme=scheme)
    )
    issued = SimulatedCard.issue(
        "card-0042", bytes.fromhex("04782E21801D80"), master_key=MASTER, aid=AID,
        system_identifier=SYSTEM, balance_minor=1_000,
    )  # fmt: skip
    medium = registry_service_pb2.Medium(medium_token=issued.card_id, card_uid=issued.uid)
    world.registry(CARDS).RegisterMedium(registry_service_pb2.RegisterMediumRequest(medium=medium))
    return issued


def card_tap(tap_id: str, card: SimulatedCard, at: datetime) -> object:
    message = tap(tap_id, card.card_id, at=at)
    message.card_debit = debit_to_bytes(card.debit(METRO_FARE, "metro-gate-1", at))
    return message


def test_a_card_debit_with_a_good_mac_is_accepted_and_kept(
    world: World, gate: RawDevice, card: SimulatedCard
) -> None:
    at = datetime.now(UTC) - timedelta(minutes=2)
    (response,) = submit(
        world, METRO, gate.batch(card_tap("c-1", card, at), card_tap("c-2", card, at))
    )
    assert reasons(response) == ["TAP_STATUS_ACCEPTED"] * 2
    assert count(world, CardDebitRow) == 2
    assert books(world).fare_total == 2 * METRO_FARE


def test_a_tampered_card_debit_is_refused_and_nothing_is_kept(
    world: World, gate: RawDevice, card: SimulatedCard
) -> None:
    at = datetime.now(UTC) - timedelta(minutes=2)
    forged = card_tap("c-forged", card, at)
    record = bytearray(forged.card_debit)  # type: ignore[attr-defined]
    record[-20] ^= 0x01  # a bit of the amount or balance, inside the MAC's coverage
    forged.card_debit = bytes(record)  # type: ignore[attr-defined]
    stranger = tap("c-stranger", "card-unknown", at=at)
    stranger.card_debit = forged.card_debit  # type: ignore[attr-defined]
    (response,) = submit(world, METRO, gate.batch(forged, stranger, card_tap("c-good", card, at)))  # type: ignore[arg-type]
    assert reasons(response) == [
        "TAP_REJECT_REASON_CARD_MAC_INVALID",
        "TAP_REJECT_REASON_CARD_UNKNOWN",
        "TAP_STATUS_ACCEPTED",
    ]
    assert all(r.detail for r in response.results[:2])
    assert books(world).tap_ids == {"c-good"}
    assert count(world, CardDebitRow) == 1


def _ride_code_rider(world: World) -> tuple[str, object, Ed25519PrivateKey]:
    stub = wallet_service_pb2_grpc.WalletServiceStub(world.channel(WALLET))
    account = stub.OpenAccount(
        wallet_service_pb2.OpenAccountRequest(
            account_id="acct-1", currency="SGD", rider_category="adult"
        )
    ).account
    rider_key = Ed25519PrivateKey.generate()
    request = wallet_service_pb2.IssueRideCredentialRequest(
        account_id="acct-1", rider_public_key=public_key_bytes(rider_key), serial=7
    )
    request.expires_at.FromDatetime(datetime.now(UTC) + timedelta(days=30))
    credential = ride_credential(stub.IssueRideCredential(request).credential)
    return account.medium_token, credential, rider_key


def test_ride_codes_are_checked_at_tap_time_and_never_accepted_twice(
    world: World, gate: RawDevice
) -> None:
    token, credential, rider_key = _ride_code_rider(world)
    at = datetime.now(UTC) - timedelta(minutes=30)  # uploaded half an hour late
    code = generate_code(credential, rider_key, at, 1)  # type: ignore[arg-type]
    first = tap("r-1", token, at=at)
    first.ride_code = code
    again = tap("r-2", token, at=at + timedelta(seconds=5))
    again.ride_code = code
    stale = tap("r-3", token, at=at + timedelta(minutes=10))
    stale.ride_code = generate_code(credential, rider_key, at, 2)  # type: ignore[arg-type]
    forged = tap("r-4", token, at=at)
    forged.ride_code = code[:-4] + ("AAAA" if not code.endswith("AAAA") else "BBBB")
    (response,) = submit(world, METRO, gate.batch(first, again, stale, forged))
    assert reasons(response) == [
        "TAP_STATUS_ACCEPTED",
        "TAP_REJECT_REASON_RIDE_CODE_REPLAYED",
        "TAP_REJECT_REASON_RIDE_CODE_INVALID",
        "TAP_REJECT_REASON_RIDE_CODE_INVALID",
    ]
    assert "stale" in response.results[2].detail
    (later,) = submit(world, METRO, gate.batch(again))
    assert reasons(later) == ["TAP_REJECT_REASON_RIDE_CODE_REPLAYED"], "replay across batches too"
    assert count(world, RideCodeUseRow) == 1
    assert books(world).tap_ids == {"r-1"}


def test_the_card_report_names_a_debit_a_reader_lost(
    world: World, gate: RawDevice, card: SimulatedCard
) -> None:
    at = datetime.now(UTC) - timedelta(minutes=5)
    kept = [card_tap(f"c-{n}", card, at + timedelta(seconds=n)) for n in range(4)]
    del kept[2]  # the reader lost the third debit
    submit(world, METRO, gate.batch(*kept))  # type: ignore[arg-type]
    result = subprocess.run(
        [sys.executable, "-m", "clearing", "cards", "report", "--db", world.database_url, "--json"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    findings = json.loads(result.stdout)["findings"]
    assert findings == [
        {
            "kind": "gap",
            "card_id": card.card_id,
            "counters": "3-3",
            "detail": "counters never arrived",
        }
    ]
