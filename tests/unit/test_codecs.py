"""Signed tap batches: what a reader seals, the clearing house opens only with
that reader's key and only while every byte is as it was signed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from farebridge.codecs import (
    BATCH_SIGNING_DOMAIN,
    BatchSignatureError,
    generate_device_key,
    load_private_key_pem,
    open_batch,
    peek_batch,
    private_key_pem,
    public_key_bytes,
    public_key_from_bytes,
    seal_batch,
)
from farebridge.v1 import common_pb2, tap_pb2

DEVICE_KEY = generate_device_key()
OTHER_DEVICE_KEY = generate_device_key()
SEALED_AT = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def _batch(device_id: str = "reader-7", *taps: tuple[str, str, str]) -> tap_pb2.TapBatch:
    """A batch from a tap script: (tap_id, medium_token, "on" | "off") per tap."""
    batch = tap_pb2.TapBatch(device_id=device_id, batch_id="batch-1")
    batch.sealed_at.FromDatetime(SEALED_AT)
    directions = {"on": common_pb2.TAP_DIRECTION_ON, "off": common_pb2.TAP_DIRECTION_OFF}
    for sequence, (tap_id, medium, direction) in enumerate(taps, start=1):
        tap = batch.taps.add(
            tap_id=tap_id,
            device_sequence=sequence,
            medium_token=medium,
            direction=directions[direction],
        )
        tap.tapped_at.FromDatetime(SEALED_AT)
    return batch


BATCH = _batch(
    "reader-7",
    ("t-1", "card-a", "on"),
    ("t-2", "card-b", "on"),
    ("t-3", "card-a", "off"),
)
SIGNED = seal_batch(BATCH, DEVICE_KEY)


def test_sealed_batch_opens_with_the_device_key() -> None:
    opened = open_batch(SIGNED, DEVICE_KEY.public_key())
    assert opened == BATCH
    assert [tap.tap_id for tap in opened.taps] == ["t-1", "t-2", "t-3"]


def test_sealed_batch_opens_with_the_registry_form_of_the_key() -> None:
    """The registry stores the raw 32 bytes; a key round-tripped through that
    form, and a device key round-tripped through its PEM file, still agree."""
    reloaded = load_private_key_pem(private_key_pem(DEVICE_KEY))
    resealed = seal_batch(BATCH, reloaded)
    registry_key = public_key_from_bytes(public_key_bytes(DEVICE_KEY))
    assert open_batch(resealed, registry_key) == BATCH


def test_another_devices_key_does_not_open_the_batch() -> None:
    with pytest.raises(BatchSignatureError):
        open_batch(SIGNED, OTHER_DEVICE_KEY.public_key())


@given(data=st.data())
def test_flipping_any_byte_of_the_batch_breaks_the_signature(data: st.DataObject) -> None:
    position = data.draw(st.integers(0, len(SIGNED.batch) - 1), label="position")
    mask = data.draw(st.integers(1, 255), label="mask")
    tampered = bytearray(SIGNED.batch)
    tampered[position] ^= mask
    forged = tap_pb2.SignedTapBatch(batch=bytes(tampered), signature=SIGNED.signature)
    with pytest.raises(BatchSignatureError):
        open_batch(forged, DEVICE_KEY.public_key())


@given(data=st.data())
def test_flipping_any_byte_of_the_signature_breaks_it(data: st.DataObject) -> None:
    position = data.draw(st.integers(0, len(SIGNED.signature) - 1), label="position")
    mask = data.draw(st.integers(1, 255), label="mask")
    tampered = bytearray(SIGNED.signature)
    tampered[position] ^= mask
    forged = tap_pb2.SignedTapBatch(batch=SIGNED.batch, signature=bytes(tampered))
    with pytest.raises(BatchSignatureError):
        open_batch(forged, DEVICE_KEY.public_key())


def test_truncated_or_extended_batch_bytes_do_not_verify() -> None:
    for batch_bytes in (SIGNED.batch[:-1], SIGNED.batch + b"\x00", b""):
        forged = tap_pb2.SignedTapBatch(batch=batch_bytes, signature=SIGNED.signature)
        with pytest.raises(BatchSignatureError):
            open_batch(forged, DEVICE_KEY.public_key())


def test_signature_without_the_domain_prefix_does_not_verify() -> None:
    """A signature the device made over the bare batch bytes (say, for another
    kind of message that happens to share them) must not pass as a batch seal."""
    assert BATCH_SIGNING_DOMAIN == b"farebridge.v1.TapBatch\x00"
    bare = DEVICE_KEY.sign(SIGNED.batch)
    forged = tap_pb2.SignedTapBatch(batch=SIGNED.batch, signature=bare)
    with pytest.raises(BatchSignatureError):
        open_batch(forged, DEVICE_KEY.public_key())


def test_signature_covers_exactly_the_domain_prefix_and_the_sent_bytes() -> None:
    """Another implementation (a reader firmware) can reproduce the seal from
    the published rule: Ed25519 over domain || batch."""
    DEVICE_KEY.public_key().verify(SIGNED.signature, BATCH_SIGNING_DOMAIN + SIGNED.batch)
    independent = tap_pb2.SignedTapBatch(
        batch=SIGNED.batch, signature=DEVICE_KEY.sign(BATCH_SIGNING_DOMAIN + SIGNED.batch)
    )
    assert open_batch(independent, DEVICE_KEY.public_key()) == BATCH


def test_peek_reads_the_device_id_without_verifying() -> None:
    unsigned = tap_pb2.SignedTapBatch(batch=SIGNED.batch, signature=b"")
    assert peek_batch(unsigned).device_id == "reader-7"
    foreign = seal_batch(_batch("reader-9", ("t-9", "card-z", "on")), OTHER_DEVICE_KEY)
    peeked = peek_batch(foreign)
    assert peeked.device_id == "reader-9"
    assert [tap.tap_id for tap in peeked.taps] == ["t-9"]
    with pytest.raises(BatchSignatureError):
        open_batch(unsigned, DEVICE_KEY.public_key())


def test_public_key_from_bytes_refuses_a_wrong_length() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        public_key_from_bytes(public_key_bytes(DEVICE_KEY)[:31])


def test_load_private_key_pem_refuses_a_non_ed25519_key() -> None:
    ec_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(ValueError, match="Ed25519"):
        load_private_key_pem(ec_pem)
    assert isinstance(load_private_key_pem(private_key_pem(DEVICE_KEY)), Ed25519PrivateKey)
