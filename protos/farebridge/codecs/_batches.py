"""Signed tap batches.

The signature covers the serialized ``TapBatch`` exactly as transmitted,
prefixed by a domain tag so that a signature over a batch can never be
replayed as a signature over any other kind of farebridge message. The
verifier checks the bytes it received before it parses them, so protobuf's
freedom to serialize one message in several ways never matters.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from farebridge.v1 import tap_pb2

BATCH_SIGNING_DOMAIN = b"farebridge.v1.TapBatch\x00"


class BatchSignatureError(ValueError):
    """The batch's signature does not verify under the key it was checked with:
    it was signed by another device, or altered after signing."""


def batch_signing_bytes(serialized_batch: bytes) -> bytes:
    return BATCH_SIGNING_DOMAIN + serialized_batch


def seal_batch(batch: tap_pb2.TapBatch, key: Ed25519PrivateKey) -> tap_pb2.SignedTapBatch:
    """Serializes ``batch`` once and signs those very bytes."""
    serialized = batch.SerializeToString(deterministic=True)
    signature = key.sign(batch_signing_bytes(serialized))
    return tap_pb2.SignedTapBatch(batch=serialized, signature=signature)


def open_batch(signed: tap_pb2.SignedTapBatch, key: Ed25519PublicKey) -> tap_pb2.TapBatch:
    """Verifies the signature, then parses. Raises BatchSignatureError on a bad
    signature and ``google.protobuf.message.DecodeError`` on bytes that are no TapBatch."""
    try:
        key.verify(signed.signature, batch_signing_bytes(signed.batch))
    except InvalidSignature as exc:
        raise BatchSignatureError("the batch signature does not verify") from exc
    batch = tap_pb2.TapBatch()
    batch.ParseFromString(signed.batch)
    return batch


def peek_batch(signed: tap_pb2.SignedTapBatch) -> tap_pb2.TapBatch:
    """Parses without verifying, to learn which device's key to verify with.
    Nothing read here may be trusted until ``open_batch`` succeeds."""
    batch = tap_pb2.TapBatch()
    batch.ParseFromString(signed.batch)
    return batch
