"""Base45 (RFC 9285): bytes as text in QR alphanumeric mode's own alphabet.

QR alphanumeric mode spends 11 bits on two characters; base45 spends three
characters on two bytes, so a byte costs 8.25 bits in the symbol instead of
the 10.67 that base64 costs in byte mode. That is why ride codes use it.
"""

from __future__ import annotations

import struct

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_NOT_A_DIGIT = 0xFF
# Maps each ASCII byte to its base45 digit, so that ``bytes.translate`` turns
# a whole text into digits in one C call: a reader decodes every scan.
_DIGITS = bytes(
    ALPHABET.index(chr(byte)) if chr(byte) in ALPHABET else _NOT_A_DIGIT for byte in range(256)
)


class Base45Error(ValueError):
    """The text is not base45: a character outside the alphabet, a length of
    the form 3n + 1, or a group whose value does not fit its bytes."""


def b45encode(data: bytes) -> str:
    """Each two bytes become three characters, a last lone byte two."""
    pairs = struct.unpack(f">{len(data) // 2}H", data[: len(data) - len(data) % 2])
    out = [ALPHABET[v % 45] + ALPHABET[v // 45 % 45] + ALPHABET[v // 2025] for v in pairs]
    if len(data) % 2:
        out.append(ALPHABET[data[-1] % 45] + ALPHABET[data[-1] // 45])
    return "".join(out)


def b45decode(text: str) -> bytes:
    """The inverse of ``b45encode``; every text it accepts re-encodes to itself,
    because groups whose value overflows their bytes are refused."""
    if len(text) % 3 == 1:
        raise Base45Error(f"a base45 text cannot have {len(text)} characters")
    if not text.isascii():
        raise Base45Error("base45 text is ASCII")
    digits = text.encode("ascii").translate(_DIGITS)
    if _NOT_A_DIGIT in digits:
        bad = text[digits.index(_NOT_A_DIGIT)]
        raise Base45Error(f"{bad!r} is not a base45 character")
    whole = len(digits) - len(digits) % 3
    values = [
        a + b * 45 + c * 2025
        for a, b, c in zip(digits[0:whole:3], digits[1:whole:3], digits[2:whole:3], strict=True)
    ]
    if values and max(values) > 0xFFFF:
        raise Base45Error("a group of three characters overflows two bytes")
    out = struct.pack(f">{len(values)}H", *values)
    if whole == len(digits):
        return out
    last = digits[whole] + digits[whole + 1] * 45
    if last > 0xFF:
        raise Base45Error("the final group of two characters overflows a byte")
    return out + bytes([last])
