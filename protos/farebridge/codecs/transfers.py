"""Canonical bytes of a committed ledger transfer: the leaves of the Merkle log.

An auditor recomputes these bytes from an exported transfer and hashes them
(RFC 9162 leaf hash) to check the log, so the layout is fixed and versioned
rather than left to any serializer. All integers are big-endian.

====  =====================  ===============================================
size  field                  notes
====  =====================  ===============================================
29    domain tag             ``farebridge.v1.LedgerTransfer`` then 0x00
1     version                1
16    transfer_id            128-bit id
16    debit_account_id
16    credit_account_id
8     amount                 unsigned, minor units
3     currency               ISO 4217, ASCII
2+n   code                   uint16 length, then UTF-8
2+n   user_data              uint16 length, then UTF-8
2     flags                  TigerBeetle bit positions
16    pending_id             all zero when absent
4     timeout                seconds
8     timestamp              signed microseconds since 1970-01-01T00:00:00Z
====  =====================  ===============================================
"""

from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

LEAF_DOMAIN = b"farebridge.v1.LedgerTransfer\x00"
LEAF_VERSION = 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ZERO = bytes(16)


class TransferEncodingError(ValueError):
    """The bytes are not a version-1 canonical ledger transfer."""


@dataclass(frozen=True, slots=True)
class LoggedTransfer:
    """The fields of a committed transfer that its leaf commits to."""

    transfer_id: uuid.UUID
    debit_account_id: uuid.UUID
    credit_account_id: uuid.UUID
    amount: int
    currency: str
    code: str
    user_data: str
    flags: int
    pending_id: uuid.UUID | None
    timeout: int
    timestamp: datetime


def _text(value: str) -> bytes:
    raw = value.encode()
    if len(raw) > 0xFFFF:
        raise TransferEncodingError("a text field is longer than 65535 bytes")
    return struct.pack(">H", len(raw)) + raw


def transfer_leaf_bytes(transfer: LoggedTransfer) -> bytes:
    """The canonical bytes of ``transfer`` (see the module's table)."""
    currency = transfer.currency.encode("ascii")
    if len(currency) != 3:
        raise TransferEncodingError(f"currency {transfer.currency!r} is not three letters")
    micros = (transfer.timestamp - _EPOCH) // timedelta(microseconds=1)
    return b"".join(
        (
            LEAF_DOMAIN,
            bytes([LEAF_VERSION]),
            transfer.transfer_id.bytes,
            transfer.debit_account_id.bytes,
            transfer.credit_account_id.bytes,
            struct.pack(">Q", transfer.amount),
            currency,
            _text(transfer.code),
            _text(transfer.user_data),
            struct.pack(">H", transfer.flags),
            transfer.pending_id.bytes if transfer.pending_id else _ZERO,
            struct.pack(">I", transfer.timeout),
            struct.pack(">q", micros),
        )
    )


class _Reader:
    def __init__(self, data: bytes) -> None:
        self._data = data
        self._at = 0

    def take(self, size: int) -> bytes:
        if self._at + size > len(self._data):
            raise TransferEncodingError("the bytes end in the middle of a field")
        chunk = self._data[self._at : self._at + size]
        self._at += size
        return chunk

    def text(self) -> str:
        (length,) = struct.unpack(">H", self.take(2))
        return self.take(length).decode()

    def done(self) -> None:
        if self._at != len(self._data):
            raise TransferEncodingError("bytes follow the last field")


def parse_transfer_leaf(data: bytes) -> LoggedTransfer:
    """The inverse of ``transfer_leaf_bytes``; raises TransferEncodingError."""
    reader = _Reader(data)
    if reader.take(len(LEAF_DOMAIN)) != LEAF_DOMAIN:
        raise TransferEncodingError("the bytes do not start with the transfer domain tag")
    if reader.take(1)[0] != LEAF_VERSION:
        raise TransferEncodingError("unsupported canonical transfer version")
    transfer_id, debit, credit = (uuid.UUID(bytes=reader.take(16)) for _ in range(3))
    (amount,) = struct.unpack(">Q", reader.take(8))
    currency = reader.take(3).decode("ascii")
    code, user_data = reader.text(), reader.text()
    (flags,) = struct.unpack(">H", reader.take(2))
    pending = reader.take(16)
    (timeout,) = struct.unpack(">I", reader.take(4))
    (micros,) = struct.unpack(">q", reader.take(8))
    reader.done()
    return LoggedTransfer(
        transfer_id, debit, credit, amount, currency, code, user_data, flags,
        None if pending == _ZERO else uuid.UUID(bytes=pending), timeout,
        _EPOCH + timedelta(microseconds=micros),
    )  # fmt: skip
