"""Base45 as RFC 9285 defines it: the published examples, and the promise
that every accepted text has exactly one byte string behind it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from farebridge.codecs.ridecode import Base45Error, b45decode, b45encode

# RFC 9285, sections 4.3 and 4.4.
RFC_9285_EXAMPLES = [
    (b"AB", "BB8"),
    (b"Hello!!", "%69 VD92EX0"),
    (b"base-45", "UJCLQE7W581"),
    (b"ietf!", "QED8WEX0"),
]
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"


@pytest.mark.parametrize(("raw", "text"), RFC_9285_EXAMPLES)
def test_rfc_9285_examples_encode(raw: bytes, text: str) -> None:
    assert b45encode(raw) == text


@pytest.mark.parametrize(("raw", "text"), RFC_9285_EXAMPLES)
def test_rfc_9285_examples_decode(raw: bytes, text: str) -> None:
    assert b45decode(text) == raw


@pytest.mark.parametrize(
    "text",
    [
        "GGW",  # RFC 9285 section 6: 65536 does not fit two bytes
        ":::",  # the largest three-character group, 91124
        "ZZ",  # a final pair worth 1610, more than a byte
        "A",  # 3n + 1 characters can encode nothing
        "BB8A",
        "bb8",  # no lower case in the alphabet
        "BB\u00e9",
        "BB#",
    ],
)
def test_invalid_text_is_refused(text: str) -> None:
    with pytest.raises(Base45Error):
        b45decode(text)


@given(st.binary(max_size=300))
def test_decode_inverts_encode(raw: bytes) -> None:
    text = b45encode(raw)
    assert set(text) <= set(ALPHABET)
    assert len(text) == len(raw) // 2 * 3 + len(raw) % 2 * 2
    assert b45decode(text) == raw


@given(st.text(alphabet=ALPHABET, max_size=60))
def test_every_accepted_text_re_encodes_to_itself(text: str) -> None:
    try:
        raw = b45decode(text)
    except Base45Error:
        return
    assert b45encode(raw) == text
