"""The few field encodings every ride-code structure is built from.

All integers are unsigned big-endian. Identifiers are printable ASCII
(0x21-0x7E) behind a one-byte length: a byte string has exactly one reading,
and no Unicode normalization can make two readers see two different riders.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from farebridge.codecs._ridecode_errors import RideCodeArgumentError

UINT32_MAX = 2**32 - 1
UINT64_MAX = 2**64 - 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)
_VISIBLE_ASCII = bytes(range(0x21, 0x7F))


class LayoutError(ValueError):
    """The bytes ended, or went on, where the layout says otherwise."""


def check_identifier(name: str, value: str, max_length: int) -> bytes:
    """``value`` as its ASCII bytes, or RideCodeArgumentError naming ``name``."""
    if not 1 <= len(value) <= max_length:
        raise RideCodeArgumentError(f"{name} must have 1 to {max_length} characters")
    if not all("!" <= character <= "~" for character in value):
        raise RideCodeArgumentError(f"{name} must be printable ASCII without spaces")
    return value.encode("ascii")


def check_uint(name: str, value: int, maximum: int) -> int:
    if not 0 <= value <= maximum:
        raise RideCodeArgumentError(f"{name} must be between 0 and {maximum}, not {value}")
    return value


def check_aware(name: str, value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise RideCodeArgumentError(f"{name} must be timezone-aware (use UTC)")
    return value.astimezone(UTC)


def unix_millis(value: datetime) -> int:
    """Whole milliseconds since the epoch, rounded down: never later than ``value``."""
    return (value - _EPOCH) // _MILLISECOND


def from_unix_millis(millis: int) -> datetime:
    return _EPOCH + millis * _MILLISECOND


def short_field(data: bytes) -> bytes:
    """A one-byte length, then the bytes (callers keep them under 256)."""
    return bytes([len(data)]) + data


class Cursor:
    """Reads a byte string front to back; raises LayoutError on any overrun."""

    def __init__(self, data: bytes, start: int = 0) -> None:
        self._data = data
        self.position = start

    def take(self, count: int) -> bytes:
        end = self.position + count
        if end > len(self._data):
            raise LayoutError(f"needs {end} bytes, has {len(self._data)}")
        chunk = self._data[self.position : end]
        self.position = end
        return chunk

    def uint(self, width: int) -> int:
        return int.from_bytes(self.take(width), "big")

    def identifier(self, max_length: int) -> str:
        """The inverse of ``short_field(check_identifier(...))``."""
        raw = self.take(self.uint(1))
        if not 1 <= len(raw) <= max_length or raw.translate(None, _VISIBLE_ASCII):
            raise LayoutError(f"an identifier of {len(raw)} bytes is not printable ASCII")
        return raw.decode("ascii")

    def finish(self) -> None:
        if self.position != len(self._data):
            raise LayoutError(f"{len(self._data) - self.position} bytes follow the end")
