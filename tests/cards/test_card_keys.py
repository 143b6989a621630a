"""Card keys: AES-CMAC as RFC 4493 publishes it, and per-card keys diversified
exactly as NXP AN10922 computes them, so our cards interoperate with real
readers, SAMs and personalization stations."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given
from hypothesis import strategies as st

from farebridge.codecs.cards import CardKeyError, aes_cmac, card_key, diversify_aes128

# RFC 4493 §4, "Test Vectors" (also NIST SP 800-38B, Appendix D.1): one AES-128
# key, the message M truncated to 0, 16, 40 and 64 bytes.
RFC4493_KEY = bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c")
RFC4493_MESSAGE = bytes.fromhex(
    "6bc1bee22e409f96e93d7e117393172a"
    "ae2d8a571e03ac9c9eb76fac45af8e51"
    "30c81c46a35ce411e5fbc1191a0a52ef"
    "f69f2445df4f9b17ad2b417be66c3710"
)


@pytest.mark.parametrize(
    ("length", "expected"),
    [
        (0, "bb1d6929e95937287fa37d129b756746"),  # Example 1: the empty message
        (16, "070a16b46b4d4144f79bdd9dd04a287c"),  # Example 2: one whole block
        (40, "dfa66747de9ae63030ca32611497c827"),  # Example 3: a partial last block
        (64, "51f0bebf7e3b9d92fc49741779363cfe"),  # Example 4: four whole blocks
    ],
)
def test_aes_cmac_matches_rfc4493_examples(length: int, expected: str) -> None:
    assert aes_cmac(RFC4493_KEY, RFC4493_MESSAGE[:length]) == bytes.fromhex(expected)


# NXP AN10922 "Symmetric key diversifications", §2.2.1 "AES-128 key
# diversification example"; the same vector is in libfreefare's
# test_mifare_key_deriver_an10922_aes128.
AN10922_MASTER = bytes.fromhex("00112233445566778899AABBCCDDEEFF")
AN10922_UID = bytes.fromhex("04782E21801D80")
AN10922_AID = bytes.fromhex("3042F5")
AN10922_SYSTEM_ID = bytes.fromhex("4E585020416275")
AN10922_KEY = bytes.fromhex("A8DD63A3B89D54B37CA802473FDA9175")
# The note's padded CMAC input: 0x01 || M || 0x80 || zeros, two whole blocks.
AN10922_PADDED_INPUT = bytes.fromhex(
    "01 04782E21801D80 3042F5 4E585020416275 80 00000000000000000000000000"
)


def test_diversification_reproduces_the_an10922_aes128_example() -> None:
    assert AN10922_SYSTEM_ID == b"NXP Abu"
    key = diversify_aes128(AN10922_MASTER, AN10922_UID, AN10922_AID, AN10922_SYSTEM_ID)
    assert key == AN10922_KEY


def test_card_key_is_the_an10922_key_of_the_card() -> None:
    assert card_key(AN10922_MASTER, AN10922_UID, AN10922_AID, b"NXP Abu") == AN10922_KEY


def test_an10922_example_is_cbc_mac_of_the_published_padded_input_masked_with_k2() -> None:
    assert len(AN10922_PADDED_INPUT) == 32
    _, k2 = _subkeys(AN10922_MASTER)
    masked = AN10922_PADDED_INPUT[:16] + _xor(AN10922_PADDED_INPUT[16:], k2)
    assert _aes_cbc(AN10922_MASTER, masked)[16:] == AN10922_KEY


@given(
    master=st.binary(min_size=16, max_size=16),
    uid=st.sampled_from([4, 7, 10]).flatmap(lambda n: st.binary(min_size=n, max_size=n)),
    rest=st.binary(min_size=12, max_size=21),
)
def test_diversification_is_plain_cmac_when_the_input_fills_two_blocks(
    master: bytes, uid: bytes, rest: bytes
) -> None:
    """From 16 to 31 bytes of input, AN10922's padding is CMAC's own."""
    aid, system_id = rest[:3], rest[3:]
    expected = aes_cmac(master, b"\x01" + uid + aid + system_id)
    assert diversify_aes128(master, uid, aid, system_id) == expected


@given(
    master=st.binary(min_size=16, max_size=16),
    uid=st.sampled_from([4, 7, 10]).flatmap(lambda n: st.binary(min_size=n, max_size=n)),
    aid=st.binary(max_size=3),
    system_id=st.binary(max_size=1),
)
def test_short_inputs_are_padded_to_two_blocks_not_one(
    master: bytes, uid: bytes, aid: bytes, system_id: bytes
) -> None:
    """Under 15 bytes, plain CMAC would pad to one block; AN10922 pads to two.
    Checked against the library's CMAC: a whole second block gets K1 there,
    so pre-masking it with K1 xor K2 leaves exactly AN10922's K2 mask."""
    padded = (b"\x01" + uid + aid + system_id + b"\x80").ljust(32, b"\x00")
    k1, k2 = _subkeys(master)
    via_library = aes_cmac(master, padded[:16] + _xor(padded[16:], _xor(k1, k2)))
    key = diversify_aes128(master, uid, aid, system_id)
    assert key == via_library
    assert key != aes_cmac(master, b"\x01" + uid + aid + system_id)


def test_different_cards_get_different_keys() -> None:
    other_uid = bytes.fromhex("04782E21801D81")
    alice = diversify_aes128(AN10922_MASTER, AN10922_UID, AN10922_AID, b"NXP Abu")
    bob = diversify_aes128(AN10922_MASTER, other_uid, AN10922_AID, b"NXP Abu")
    assert alice != bob


def test_the_longest_allowed_input_is_31_bytes() -> None:
    uid, aid = bytes(10), bytes(3)
    assert len(diversify_aes128(AN10922_MASTER, uid, aid, b"x" * 18)) == 16
    with pytest.raises(CardKeyError, match="32 bytes; AN10922 allows at most 31"):
        diversify_aes128(AN10922_MASTER, uid, aid, b"x" * 19)


@pytest.mark.parametrize(
    ("master", "uid", "message"),
    [
        (bytes(15), AN10922_UID, "master key has 16 bytes, not 15"),
        (bytes(32), AN10922_UID, "master key has 16 bytes, not 32"),
        (AN10922_MASTER, bytes(6), "UID has 4, 7 or 10 bytes, not 6"),
        (AN10922_MASTER, b"", "UID has 4, 7 or 10 bytes, not 0"),
    ],
)
def test_wrong_key_or_uid_lengths_are_refused_with_the_length(
    master: bytes, uid: bytes, message: str
) -> None:
    with pytest.raises(CardKeyError, match=message):
        diversify_aes128(master, uid, AN10922_AID, b"NXP Abu")


def test_cmac_refuses_a_key_that_is_not_aes128() -> None:
    with pytest.raises(CardKeyError, match="16 bytes, not 24"):
        aes_cmac(bytes(24), b"fare")
    assert issubclass(CardKeyError, ValueError)


def _aes_cbc(key: bytes, data: bytes) -> bytes:
    encryptor = Cipher(algorithms.AES(key), modes.CBC(bytes(16))).encryptor()
    return encryptor.update(data) + encryptor.finalize()


def _subkeys(key: bytes) -> tuple[bytes, bytes]:
    """RFC 4493 §2.3, written out: L = AES(K, 0); K1 = L·x; K2 = K1·x."""
    k1 = _times_x(_aes_cbc(key, bytes(16)))
    return k1, _times_x(k1)


def _times_x(block: bytes) -> bytes:
    value = int.from_bytes(block, "big") << 1
    return ((value ^ 0x87 if value >> 128 else value) & (2**128 - 1)).to_bytes(16, "big")


def _xor(left: bytes, right: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(left, right, strict=True))
