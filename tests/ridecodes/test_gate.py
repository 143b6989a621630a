"""A reader's gate admits genuine codes once, follows newer lists, and never
goes back to an older one."""

from __future__ import annotations

from datetime import timedelta

import pytest

from farebridge.codecs.ridecode import DenyList, RejectReason, RideCodeRejectedError, TrustList
from readers import ReaderError
from readers._ridecodes import RideCodeGate

from .conftest import T0, Scene, named_key


def _gate(scene: Scene, seconds: float = 1) -> RideCodeGate:
    return RideCodeGate(
        scene.trust_list, scene.deny_list, clock=lambda: T0 + timedelta(seconds=seconds)
    )


def _reason(gate: RideCodeGate, text: str) -> RejectReason:
    with pytest.raises(RideCodeRejectedError) as refused:
        gate.admit(text)
    return refused.value.reason


def test_admits_once(scene: Scene) -> None:
    gate, text = _gate(scene), scene.rider().code(0, 1)
    assert gate.admit(text).rider_token == "tok-ana"
    assert _reason(gate, text) == RejectReason.REPLAYED


def test_admits_at_the_given_time(scene: Scene) -> None:
    gate = _gate(scene)
    assert _reason(gate, scene.rider().code(0, 1)[:-3]) == RejectReason.MALFORMED
    with pytest.raises(RideCodeRejectedError, match="stale"):
        gate.admit(scene.rider().code(0, 1), now=T0 + timedelta(minutes=5))


def test_a_newer_deny_list_blocks_at_once(scene: Scene) -> None:
    gate, ana = _gate(scene), scene.rider()
    gate.admit(ana.code(0, 1))
    gate.replace_deny_list(DenyList(version=2, rider_tokens=frozenset({"tok-ana"})))
    assert _reason(gate, ana.code(0, 2)) == RejectReason.DENIED


def test_an_older_deny_list_is_refused(scene: Scene) -> None:
    gate = _gate(scene)
    gate.replace_deny_list(DenyList(version=5, rider_tokens=frozenset({"tok-ana"})))
    with pytest.raises(ReaderError, match="older"):
        gate.replace_deny_list(DenyList(version=4))
    assert gate.deny_list.version == 5
    assert _reason(gate, scene.rider().code(0, 1)) == RejectReason.DENIED


def test_a_newer_trust_list_admits_a_new_issuer(scene: Scene) -> None:
    gate, stranger = _gate(scene), scene.rider(issuer="nightbus")
    assert _reason(gate, stranger.code(0, 1)) == RejectReason.UNKNOWN_ISSUER
    scene.issuers["nightbus"] = named_key("nightbus")
    gate.replace_trust_list(TrustList(2, T0, scene.trust_list.issuers))
    assert gate.admit(stranger.code(0, 2)).issuer_id == "nightbus"
    with pytest.raises(ReaderError, match="older"):
        gate.replace_trust_list(TrustList(1, T0, {}))
    assert gate.trust_list.version == 2
