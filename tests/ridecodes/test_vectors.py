"""The published test vectors (ridecode_vectors.json), byte for byte.

Another implementation of the format passes these too; this one must keep
passing them, or it has changed the format."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import farebridge.codecs
from farebridge.codecs import public_key_bytes
from farebridge.codecs.ridecode import (
    CredentialId,
    DenyList,
    ReplayGuard,
    RideCodeRejectedError,
    RideCredential,
    TrustList,
    b45decode,
    credential_bytes,
    decode_code,
    encode_code,
    generate_code,
    issue_credential,
    open_deny_list,
    open_trust_list,
    sign_deny_list,
    sign_trust_list,
    verify_code,
)

Vectors = dict[str, Any]
VECTORS_PATH = Path(farebridge.codecs.__file__).with_name("ridecode_vectors.json")
CASES: list[dict[str, Any]] = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))["verifications"]


def _keys(vectors: Vectors) -> dict[str, Ed25519PrivateKey]:
    return {
        name: Ed25519PrivateKey.from_private_bytes(bytes.fromhex(key["seed"]))
        for name, key in vectors["keys"].items()
    }


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _credentials(vectors: Vectors) -> dict[str, RideCredential]:
    keys = _keys(vectors)
    return {
        spec["name"]: issue_credential(
            keys[spec["signed_by"]],
            spec["issuer_id"],
            spec["rider_token"],
            keys[spec["rider_key"]].public_key(),
            category=spec["category"],
            expires_at=_time(spec["expires_at"]),
            serial=spec["serial"],
        )
        for spec in vectors["credentials"]
    }


def _texts(vectors: Vectors) -> dict[str, str]:
    codes = vectors["codes"] + vectors["altered_codes"]
    return {code["name"]: code["text"] for code in codes}


def _lists(vectors: Vectors) -> tuple[TrustList, DenyList]:
    clearing_house = _keys(vectors)["clearing-house"].public_key()
    trust = open_trust_list(bytes.fromhex(vectors["trust_list"]["blob_hex"]), clearing_house)
    deny = open_deny_list(bytes.fromhex(vectors["deny_list"]["blob_hex"]), clearing_house)
    return trust, deny


def test_keys_come_from_their_seeds(vectors: Vectors) -> None:
    for name, key in _keys(vectors).items():
        assert public_key_bytes(key).hex() == vectors["keys"][name]["public_key"]


def test_credentials_encode_byte_for_byte(vectors: Vectors) -> None:
    credentials = _credentials(vectors)
    for spec in vectors["credentials"]:
        assert credential_bytes(credentials[spec["name"]]).hex() == spec["credential_hex"]


def test_codes_encode_byte_for_byte(vectors: Vectors) -> None:
    keys, credentials = _keys(vectors), _credentials(vectors)
    rider_key = {spec["name"]: keys[spec["rider_key"]] for spec in vectors["credentials"]}
    for spec in vectors["codes"]:
        text = generate_code(
            credentials[spec["credential"]],
            rider_key[spec["credential"]],
            _time(spec["at"]),
            spec["counter"],
        )
        assert text == spec["text"]
        assert text.startswith("FB1:")
        assert b45decode(text[4:]).hex() == spec["payload_hex"]


def test_codes_decode_to_their_inputs(vectors: Vectors) -> None:
    credentials = _credentials(vectors)
    for spec in vectors["codes"]:
        code = decode_code(spec["text"])
        assert code.credential == credentials[spec["credential"]]
        assert (code.timestamp, code.counter) == (_time(spec["at"]), spec["counter"])
        assert encode_code(code) == spec["text"]


def test_trust_list_blob_byte_for_byte(vectors: Vectors) -> None:
    spec, keys = vectors["trust_list"], _keys(vectors)
    blob = sign_trust_list(
        keys[spec["signed_by"]],
        {issuer: keys[key].public_key() for issuer, key in spec["issuers"].items()},
        spec["version"],
        _time(spec["issued_at"]),
    )
    assert blob.hex() == spec["blob_hex"]
    trust, _ = _lists(vectors)
    assert trust.version == spec["version"]
    assert {issuer: public_key_bytes(key) for issuer, key in trust.issuers.items()} == {
        issuer: public_key_bytes(keys[key]) for issuer, key in spec["issuers"].items()
    }


def test_deny_list_blob_byte_for_byte(vectors: Vectors) -> None:
    spec = vectors["deny_list"]
    deny = DenyList(
        spec["version"],
        frozenset(spec["rider_tokens"]),
        frozenset(CredentialId(issuer, serial) for issuer, serial in spec["serials"]),
        _time(spec["issued_at"]),
    )
    assert sign_deny_list(_keys(vectors)[spec["signed_by"]], deny).hex() == spec["blob_hex"]
    assert _lists(vectors)[1] == deny


def _verdict(vectors: Vectors, case: dict[str, Any]) -> dict[str, Any]:
    trust, deny = _lists(vectors)
    texts, now, guard = _texts(vectors), _time(case["now"]), ReplayGuard()
    windows = {
        "freshness": timedelta(seconds=vectors["freshness_seconds"]),
        "future_skew": timedelta(seconds=vectors["future_skew_seconds"]),
    }
    for earlier in case["admitted_before"]:
        verify_code(texts[earlier], trust, deny, now, guard, **windows)
    try:
        ride = verify_code(texts[case["code"]], trust, deny, now, guard, **windows)
    except RideCodeRejectedError as rejected:
        return {"admitted": False, "reason": rejected.reason.value}
    fields = {
        "rider_token": ride.rider_token,
        "issuer_id": ride.issuer_id,
        "category": ride.category,
        "timestamp": ride.timestamp,
        "counter": ride.counter,
        "serial": ride.serial,
        "expires_at": ride.expires_at,
    }
    return {"admitted": True, "ride": fields}


def _expected(case: dict[str, Any]) -> dict[str, Any]:
    expect = dict(case["expect"])
    if expect["admitted"]:
        ride = dict(expect["ride"])
        ride["timestamp"] = _time(ride["timestamp"])
        ride["expires_at"] = _time(ride["expires_at"])
        expect["ride"] = ride
    return expect


@pytest.mark.parametrize("case", CASES, ids=[case["description"] for case in CASES])
def test_verdict(vectors: Vectors, case: dict[str, Any]) -> None:
    assert _verdict(vectors, case) == _expected(case)


def test_vectors_cover_every_reason(vectors: Vectors) -> None:
    reasons = {case["expect"].get("reason") for case in vectors["verifications"]}
    assert reasons - {None} == {
        "malformed",
        "unsupported_version",
        "unknown_issuer",
        "bad_issuer_signature",
        "bad_rider_signature",
        "denied",
        "expired_credential",
        "stale",
        "future_dated",
        "replayed",
    }
    assert None in reasons
