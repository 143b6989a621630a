"""EMVCo TLV text and its checksum.

A data object is a two-digit id, a two-digit decimal length and the value.
Lengths count characters, not bytes (EMV QRCPS MPM v1.1 section 4.2): the
merchant information language template (64) carries UTF-8 text such as
Chinese names, whose characters are one each. The CRC, in contrast, runs over
the UTF-8 bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from farebridge.codecs._emvco_errors import (
    BadLengthError,
    BadTagIdError,
    DuplicateTagError,
    TruncatedError,
)

Template = Mapping[str, str]
"""The data objects inside a template, by two-digit id, in payload order."""

TagValue = str | Template
"""A top-level value: text, or the data objects of a template."""

MAX_VALUE_LENGTH = 99
"""Two decimal digits of length can say no more."""

_POLY = 0x1021
_HEADER = 4


def crc16_ccitt(data: bytes) -> int:
    """CRC-16/CCITT-FALSE: polynomial 0x1021, initial value 0xFFFF, no reflection,
    no final XOR; the checksum EMVCo prescribes for data object 63."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ _POLY) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def crc_text(covered: str) -> str:
    """The four upper-case hex digits of the CRC over ``covered``, which is the
    whole payload up to and including ``"6304"``."""
    return f"{crc16_ccitt(covered.encode('utf-8')):04X}"


def path(parent: str | None, tag: str) -> str:
    """How messages name a data object: ``"59"``, or ``"62.01"`` inside 62."""
    return tag if parent is None else f"{parent}.{tag}"


def encode_object(tag: str, value: TagValue, parent: str | None = None) -> str:
    """One data object as text; a template is encoded from its members first."""
    text = value if isinstance(value, str) else encode_objects(value.items(), tag)
    if not 1 <= len(text) <= MAX_VALUE_LENGTH:
        raise BadLengthError(
            f"data object {path(parent, tag)} would be {len(text)} characters long; "
            f"EMVCo values are 1 to {MAX_VALUE_LENGTH} characters",
            tag=path(parent, tag),
        )
    return f"{tag}{len(text):02d}{text}"


def encode_objects(objects: Iterable[tuple[str, TagValue]], parent: str | None = None) -> str:
    return "".join(encode_object(tag, value, parent) for tag, value in objects)


def iter_objects(text: str, parent: str | None = None) -> Iterator[tuple[str, str, int]]:
    """Yields (id, value, offset after the value) for each data object in order.
    Raises on the first object that cannot be read; says where."""
    offset = 0
    while offset < len(text):
        tag, length = _header(text, offset, parent)
        end = offset + _HEADER + length
        if end > len(text):
            raise TruncatedError(
                f"data object {path(parent, tag)} declares {length} characters but only "
                f"{len(text) - offset - _HEADER} remain",
                tag=path(parent, tag),
            )
        yield tag, text[offset + _HEADER : end], end
        offset = end


def _header(text: str, offset: int, parent: str | None) -> tuple[str, int]:
    where = "the payload" if parent is None else f"template {parent}"
    if offset + _HEADER > len(text):
        raise TruncatedError(
            f"{where} ends inside a data object header at character {offset}", tag=parent
        )
    tag, length = text[offset : offset + 2], text[offset + 2 : offset + _HEADER]
    if not (tag.isascii() and tag.isdigit()):
        raise BadTagIdError(
            f"{where} has {tag!r} where a two-digit id belongs (character {offset})", tag=parent
        )
    if not (length.isascii() and length.isdigit()) or length == "00":
        raise BadLengthError(
            f"data object {path(parent, tag)} has length {length!r}; "
            f"lengths are two digits from 01 to {MAX_VALUE_LENGTH}",
            tag=path(parent, tag),
        )
    return tag, int(length)


def decode_template(text: str, parent: str) -> dict[str, str]:
    """The data objects of a template, refusing a repeated id."""
    members: dict[str, str] = {}
    for tag, value, _ in iter_objects(text, parent):
        if tag in members:
            raise DuplicateTagError(
                f"template {parent} holds data object {tag} twice", tag=path(parent, tag)
            )
        members[tag] = value
    return members
