"""Codecs that readers, wallets and the clearing house must run identically.

Anything that is signed by one party and verified by another is encoded here,
once, so that the two sides can never disagree about which bytes were meant.
"""

from farebridge.codecs._batches import (
    BATCH_SIGNING_DOMAIN,
    BatchSignatureError,
    batch_signing_bytes,
    open_batch,
    peek_batch,
    seal_batch,
)
from farebridge.codecs._keys import (
    generate_device_key,
    load_private_key_pem,
    private_key_pem,
    public_key_bytes,
    public_key_from_bytes,
)

__all__ = [
    "BATCH_SIGNING_DOMAIN",
    "BatchSignatureError",
    "batch_signing_bytes",
    "generate_device_key",
    "load_private_key_pem",
    "open_batch",
    "peek_batch",
    "private_key_pem",
    "public_key_bytes",
    "public_key_from_bytes",
    "seal_batch",
]
