"""Trust lists and deny lists open only with the clearing house's key and only
as signed; readers need no other key to judge codes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from farebridge.codecs import public_key_bytes
from farebridge.codecs.ridecode import (
    CredentialId,
    DenyList,
    RideCodeArgumentError,
    SignedListError,
    open_deny_list,
    open_trust_list,
    sign_deny_list,
    sign_trust_list,
)

from .conftest import T0, named_key

CLEARING_HOUSE = named_key("clearing-house")
ISSUERS = {f"issuer-{n:02d}": named_key(f"issuer-{n:02d}").public_key() for n in range(50)}
DENIED = DenyList(
    version=8,
    rider_tokens=frozenset({"tok-dee", "tok-zed"}),
    serials=frozenset({CredentialId("tapwallet", 4), CredentialId("payroute", 2**64 - 1)}),
    issued_at=T0.replace(microsecond=0),  # lists carry whole seconds
)


def test_trust_list_round_trip() -> None:
    blob = sign_trust_list(CLEARING_HOUSE, ISSUERS, version=12, issued_at=T0)
    trust = open_trust_list(blob, CLEARING_HOUSE.public_key())
    assert trust.version == 12
    assert trust.issued_at == T0.replace(microsecond=0)
    assert {name: public_key_bytes(key) for name, key in trust.issuers.items()} == {
        name: public_key_bytes(key) for name, key in ISSUERS.items()
    }


def test_trust_list_encoding_does_not_depend_on_insertion_order() -> None:
    reordered = dict(reversed(ISSUERS.items()))
    assert sign_trust_list(CLEARING_HOUSE, reordered, 1, T0) == sign_trust_list(
        CLEARING_HOUSE, ISSUERS, 1, T0
    )


def test_trust_list_is_read_only() -> None:
    trust = open_trust_list(
        sign_trust_list(CLEARING_HOUSE, ISSUERS, 1, T0), CLEARING_HOUSE.public_key()
    )
    with pytest.raises(TypeError):
        trust.issuers["mallory"] = named_key("mallory").public_key()  # type: ignore[index]


def test_deny_list_round_trip() -> None:
    blob = sign_deny_list(CLEARING_HOUSE, DENIED)
    assert open_deny_list(blob, CLEARING_HOUSE.public_key()) == DENIED


def test_lists_signed_by_another_key_do_not_open() -> None:
    impostor = named_key("impostor")
    with pytest.raises(SignedListError):
        open_trust_list(sign_trust_list(impostor, ISSUERS, 1, T0), CLEARING_HOUSE.public_key())
    with pytest.raises(SignedListError):
        open_deny_list(sign_deny_list(impostor, DENIED), CLEARING_HOUSE.public_key())


def test_a_trust_list_blob_is_not_a_deny_list() -> None:
    """Domain tags keep one signed list from being read as the other."""
    blob = sign_trust_list(CLEARING_HOUSE, {}, 1, T0)
    with pytest.raises(SignedListError):
        open_deny_list(blob, CLEARING_HOUSE.public_key())


@given(data=st.data())
def test_any_altered_byte_is_refused(data: st.DataObject) -> None:
    blob = bytearray(sign_deny_list(CLEARING_HOUSE, DENIED))
    position = data.draw(st.integers(0, len(blob) - 1), label="position")
    blob[position] ^= data.draw(st.integers(1, 255), label="xor")
    with pytest.raises(SignedListError):
        open_deny_list(bytes(blob), CLEARING_HOUSE.public_key())


@pytest.mark.parametrize("blob", [b"", b"\x01" * 63])
def test_short_blobs_are_refused(blob: bytes) -> None:
    with pytest.raises(SignedListError):
        open_trust_list(blob, CLEARING_HOUSE.public_key())


def test_deny_list_names_what_it_blocks() -> None:
    assert DENIED.denies("tok-dee", CredentialId("tapwallet", 1))
    assert DENIED.denies("tok-ana", CredentialId("tapwallet", 4))
    assert not DENIED.denies("tok-ana", CredentialId("payroute", 4))


def test_bad_list_entries_are_refused_before_signing() -> None:
    with pytest.raises(RideCodeArgumentError, match="issuer id"):
        sign_trust_list(CLEARING_HOUSE, {"has space": bytes(32)}, 1, T0)
    with pytest.raises(RideCodeArgumentError, match="32 bytes"):
        sign_trust_list(CLEARING_HOUSE, {"tapwallet": bytes(31)}, 1, T0)
    with pytest.raises(RideCodeArgumentError, match="issued_at"):
        sign_trust_list(CLEARING_HOUSE, {}, 1, T0.replace(tzinfo=None))
