"""The phone never repeats a counter, not even across an app restart, so every
code it draws is admitted once."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from farebridge.codecs.ridecode import RejectReason, RideCodeRejectedError, decode_code
from wallets._ridecodes import (
    CredentialRenewalNeededError,
    InvalidWalletArgumentError,
    RideCodeWallet,
    WalletStateError,
)

from .conftest import T0, Scene, named_key


def _wallet(scene: Scene, state: Path, token: str = "tok-ana", serial: int = 1) -> RideCodeWallet:
    rider = scene.rider(token, serial=serial)
    return RideCodeWallet(rider.credential, rider.key, state, clock=lambda: T0)


def test_counters_rise_and_every_code_is_admitted(scene: Scene, tmp_path: Path) -> None:
    wallet = _wallet(scene, tmp_path / "counters.json")
    texts = [wallet.next_code(T0 + timedelta(seconds=second)) for second in range(5)]
    assert [decode_code(text).counter for text in texts] == [1, 2, 3, 4, 5]
    assert [scene.scan(text, 5).counter for text in texts] == [1, 2, 3, 4, 5]


def test_counter_survives_a_restart(scene: Scene, tmp_path: Path) -> None:
    state = tmp_path / "counters.json"
    before = _wallet(scene, state)
    scene.scan(before.next_code(), 1)
    scene.scan(before.next_code(), 1)
    after_restart = _wallet(scene, state)
    text = after_restart.next_code()
    assert decode_code(text).counter == 3
    assert scene.scan(text, 1).counter == 3


def test_counter_is_on_disk_before_the_code_is_shown(scene: Scene, tmp_path: Path) -> None:
    state = tmp_path / "counters.json"
    counter = decode_code(_wallet(scene, state).next_code()).counter
    stored = json.loads(state.read_text())["credentials"]
    assert [entry["last_counter"] for entry in stored] == [counter]


def test_credentials_keep_separate_counters_in_one_file(scene: Scene, tmp_path: Path) -> None:
    state = tmp_path / "counters.json"
    first = _wallet(scene, state, serial=1)
    first.next_code()
    first.next_code()
    second = _wallet(scene, state, serial=2)
    assert decode_code(second.next_code()).counter == 1
    assert decode_code(_wallet(scene, state, serial=1).next_code()).counter == 3


def test_a_corrupt_state_file_is_refused_and_left_alone(scene: Scene, tmp_path: Path) -> None:
    state = tmp_path / "counters.json"
    state.write_text('{"format": 1, "credentials": [{"issuer_id": "tapwallet"')
    with pytest.raises(WalletStateError):
        _wallet(scene, state)
    assert state.read_text().endswith('"tapwallet"')


def test_an_expired_credential_asks_for_renewal(scene: Scene, tmp_path: Path) -> None:
    wallet = _wallet(scene, tmp_path / "counters.json")
    with pytest.raises(CredentialRenewalNeededError):
        wallet.next_code(wallet.credential.expires_at)
    assert not (tmp_path / "counters.json").exists()


def test_a_used_up_counter_asks_for_renewal(scene: Scene, tmp_path: Path) -> None:
    state = tmp_path / "counters.json"
    wallet = _wallet(scene, state)
    wallet.next_code()
    document = json.loads(state.read_text())
    document["credentials"][0]["last_counter"] = 2**32 - 1
    state.write_text(json.dumps(document))
    with pytest.raises(CredentialRenewalNeededError):
        _wallet(scene, state).next_code()


def test_the_key_must_be_the_credentials(scene: Scene, tmp_path: Path) -> None:
    credential = scene.rider().credential
    with pytest.raises(InvalidWalletArgumentError):
        RideCodeWallet(credential, named_key("someone else"), tmp_path / "counters.json")


def test_a_restored_old_state_file_is_caught_at_the_gate(scene: Scene, tmp_path: Path) -> None:
    """What the counter file protects against: a phone whose counter went back
    (an old backup restored) draws codes the gate refuses within the window."""
    state = tmp_path / "counters.json"
    scene.scan(_wallet(scene, state).next_code(), 1)
    state.unlink()
    with pytest.raises(RideCodeRejectedError) as refused:
        scene.scan(_wallet(scene, state).next_code(), 2)
    assert refused.value.reason == RejectReason.REPLAYED
