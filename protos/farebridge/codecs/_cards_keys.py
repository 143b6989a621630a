"""AES-CMAC (RFC 4493) and AES-128 key diversification (NXP AN10922 §2.2).

Diversification gives every card its own key, computed from the issuer's
master key and the card's identity. A key extracted from one card therefore
forges nothing for any other card, and the issuer needs to store one key
instead of millions.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from farebridge.codecs._cards_errors import CardKeyError

AES_BLOCK = 16
AES128_KEY_LENGTH = 16
UID_LENGTHS = (4, 7, 10)
"""ISO/IEC 14443-3 UIDs are single (4), double (7) or triple (10) size."""

MAX_DIVERSIFICATION_INPUT = 31
"""AN10922 AES-128 feeds CMAC exactly two blocks; one byte is the constant."""

_AES128_DIVERSIFICATION_CONSTANT = b"\x01"
_CMAC_RB = 0x87  # R_128 from RFC 4493 §2.3: the field polynomial's low bits.


def aes_cmac(key: bytes, message: bytes) -> bytes:
    """The 16-byte AES-128-CMAC of ``message`` (RFC 4493).

    Raises CardKeyError unless ``key`` is 16 bytes.
    """
    _require_aes128_key(key, "CMAC key")
    mac = cmac.CMAC(algorithms.AES(key))
    mac.update(message)
    return mac.finalize()


def diversify_aes128(master_key: bytes, uid: bytes, aid: bytes, system_identifier: bytes) -> bytes:
    """The card's AES-128 key under NXP AN10922 §2.2.

    The diversification input M = UID || AID || system identifier; the key is
    CMAC(master_key, 0x01 || M) computed with AN10922's padding, which always
    fills two blocks: when 0x01 || M is shorter than 32 bytes it is padded
    with 0x80 and zeros to 32 and the last block is masked with subkey K2,
    else with K1. For 16 to 31 bytes of M this equals plain RFC 4493 CMAC;
    shorter inputs give a different key than plain CMAC would.

    Raises CardKeyError for a master key that is not 16 bytes, a UID that is
    not 4, 7 or 10 bytes, or an input M longer than 31 bytes.
    """
    _require_aes128_key(master_key, "master key")
    if len(uid) not in UID_LENGTHS:
        raise CardKeyError(f"a card UID has 4, 7 or 10 bytes, not {len(uid)}")
    diversification_input = uid + aid + system_identifier
    if len(diversification_input) > MAX_DIVERSIFICATION_INPUT:
        raise CardKeyError(
            f"UID, AID and system identifier together have {len(diversification_input)} "
            f"bytes; AN10922 allows at most {MAX_DIVERSIFICATION_INPUT}"
        )
    return _an10922_cmac(master_key, _AES128_DIVERSIFICATION_CONSTANT + diversification_input)


def card_key(master_key: bytes, card_uid: bytes, aid: bytes, system_identifier: bytes) -> bytes:
    """The key a card signs its debits and loads with.

    Only the issuer, who personalizes cards, and the clearing house, which
    verifies what cards signed, hold ``master_key``. Readers never do: they
    forward what the card signed and cannot mint or alter it.
    """
    return diversify_aes128(master_key, card_uid, aid, system_identifier)


def _require_aes128_key(key: bytes, name: str) -> None:
    if len(key) != AES128_KEY_LENGTH:
        raise CardKeyError(f"an AES-128 {name} has 16 bytes, not {len(key)}")


def _an10922_cmac(key: bytes, data: bytes) -> bytes:
    """CMAC over exactly two blocks, padding ``data`` (1..32 bytes) to 32."""
    k1, k2 = _cmac_subkeys(key)
    if len(data) == 2 * AES_BLOCK:
        blocks, mask = data, k1
    else:
        blocks, mask = (data + b"\x80").ljust(2 * AES_BLOCK, b"\x00"), k2
    last = _xor(blocks[AES_BLOCK:], mask)
    return _cbc_mac(key, blocks[:AES_BLOCK] + last)


def _cmac_subkeys(key: bytes) -> tuple[bytes, bytes]:
    """K1 and K2 of RFC 4493 §2.3: L = AES(key, 0), doubled once and twice."""
    k1 = _double(_cbc_mac(key, bytes(AES_BLOCK)))
    return k1, _double(k1)


def _double(block: bytes) -> bytes:
    """Multiplication by x in GF(2^128), as RFC 4493 §2.3 defines it."""
    value = int.from_bytes(block, "big") << 1
    if value >> 128:
        value = (value ^ _CMAC_RB) & ((1 << 128) - 1)
    return value.to_bytes(AES_BLOCK, "big")


def _cbc_mac(key: bytes, blocks: bytes) -> bytes:
    """The last block of AES-CBC with a zero IV over whole blocks."""
    encryptor = Cipher(algorithms.AES(key), modes.CBC(bytes(AES_BLOCK))).encryptor()
    return (encryptor.update(blocks) + encryptor.finalize())[-AES_BLOCK:]


def _xor(left: bytes, right: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(left, right, strict=True))
