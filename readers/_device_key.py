"""The reader's Ed25519 signing key, kept in ``device_key.pem`` (mode 0600).

The key is created once and then only ever loaded: the operator registers its
public half with the clearing house, so a reader that silently made a new key
would have every later batch refused as BAD_SIGNATURE.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from farebridge.codecs import generate_device_key, load_private_key_pem, private_key_pem
from farebridge.codecs.durable import write_private


def load_or_create_device_key(path: Path) -> Ed25519PrivateKey:
    """Loads the key at ``path``, creating it first if there is none."""
    try:
        return load_private_key_pem(path.read_bytes())
    except FileNotFoundError:
        pass
    # FileExistsError: another process created it first; its key is the device's key.
    with contextlib.suppress(FileExistsError):
        _write_exclusively(path, private_key_pem(generate_device_key()))
    return load_private_key_pem(path.read_bytes())


def _write_exclusively(path: Path, data: bytes) -> None:
    """A key that exists is never replaced, and a crash never leaves a
    half-written key under the final name."""
    write_private(path, data, overwrite=False)
