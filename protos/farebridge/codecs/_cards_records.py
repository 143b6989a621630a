"""What a stored-value card signs: debits at readers, loads at top-up points.

The byte layout is specified in the docstring of ``farebridge.codecs.cards``;
this module is its only implementation, so a reader, the card simulator and
the clearing house can never disagree about which bytes a MAC covers.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NamedTuple, TypeAlias

from farebridge.codecs._cards_errors import CardMacError, CardRecordError
from farebridge.codecs._cards_keys import aes_cmac

CARD_DEBIT_DOMAIN = b"farebridge.v1.CardDebit\x00"
CARD_LOAD_DOMAIN = b"farebridge.v1.CardLoad\x00"
MAC_LENGTH = 16
"""The full AES-CMAC: transport is cheap, and truncation only weakens forgery."""

UINT32_MAX = 2**32 - 1
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_TEXT_MAX = 2**16 - 1  # what a uint16 length prefix can carry
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TIME_FIELD = {CARD_DEBIT_DOMAIN: "tapped_at", CARD_LOAD_DOMAIN: "loaded_at"}
_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True)
class CardDebit:
    """A fare the card paid from its purse, as the card signed it.

    card_id: the medium token (or UID hex) the issuer registered the card as.
    counter: the card's transaction counter after this debit; every debit and
        load adds one, so clearing can find what is missing.
    amount_minor: what the card paid, in minor units of the purse currency
        (the issuer's, known from the card's registration), 0..2^32-1.
    balance_after_minor: the purse after paying. Signed, since schemes such as
        Octopus let a purse go briefly negative.
    device_id: the reader the card was tapped on.
    tapped_at: when, as an aware instant; normalized to UTC and carried with
        microsecond precision.
    mac: the 16-byte AES-CMAC over ``debit_mac_input`` under the card key.
    """

    card_id: str
    counter: int
    amount_minor: int
    balance_after_minor: int
    device_id: str
    tapped_at: datetime
    mac: bytes

    def __post_init__(self) -> None:
        object.__setattr__(self, "tapped_at", _utc(self.tapped_at, "tapped_at"))
        _check_mac_length(self.mac)
        debit_mac_input(self)


@dataclass(frozen=True)
class CardLoad:
    """Value added to the card's purse (a top-up), as the card signed it.

    A load takes the next counter value like a debit, so the counter and
    balance chains run through loads and debits alike. Fields mean what they
    mean on ``CardDebit``; ``device_id`` is the top-up point and
    ``amount_minor`` the value added.
    """

    card_id: str
    counter: int
    amount_minor: int
    balance_after_minor: int
    device_id: str
    loaded_at: datetime
    mac: bytes

    def __post_init__(self) -> None:
        object.__setattr__(self, "loaded_at", _utc(self.loaded_at, "loaded_at"))
        _check_mac_length(self.mac)
        load_mac_input(self)


CardTransaction: TypeAlias = CardDebit | CardLoad
"""Either thing a card signs; the counter orders them in one sequence."""


class _Fields(NamedTuple):
    card_id: str
    counter: int
    amount_minor: int
    balance_after_minor: int
    device_id: str
    at: datetime


def debit_mac_input(debit: CardDebit) -> bytes:
    """The exact bytes the debit's MAC covers (the layout in the module docs)."""
    return _body(CARD_DEBIT_DOMAIN, _fields_of(debit))


def load_mac_input(load: CardLoad) -> bytes:
    """The exact bytes the load's MAC covers (the layout in the module docs)."""
    return _body(CARD_LOAD_DOMAIN, _fields_of(load))


def sign_debit(
    card_key: bytes,
    *,
    card_id: str,
    counter: int,
    amount_minor: int,
    balance_after_minor: int,
    device_id: str,
    tapped_at: datetime,
) -> CardDebit:
    """What the card computes when it pays. Raises CardRecordError for a
    field out of range and CardKeyError for a key that is not 16 bytes."""
    fields = _Fields(card_id, counter, amount_minor, balance_after_minor, device_id, tapped_at)
    mac = aes_cmac(card_key, _body(CARD_DEBIT_DOMAIN, fields))
    return CardDebit(*fields, mac=mac)


def sign_load(
    card_key: bytes,
    *,
    card_id: str,
    counter: int,
    amount_minor: int,
    balance_after_minor: int,
    device_id: str,
    loaded_at: datetime,
) -> CardLoad:
    """What the card computes when value is added. Raises as ``sign_debit``."""
    fields = _Fields(card_id, counter, amount_minor, balance_after_minor, device_id, loaded_at)
    mac = aes_cmac(card_key, _body(CARD_LOAD_DOMAIN, fields))
    return CardLoad(*fields, mac=mac)


def verify_debit(card_key: bytes, debit: CardDebit) -> None:
    """Returns only if ``debit`` is exactly what the card with ``card_key``
    signed; raises CardMacError otherwise."""
    _verify(card_key, debit_mac_input(debit), debit.mac, "debit")


def verify_load(card_key: bytes, load: CardLoad) -> None:
    """Returns only if ``load`` is exactly what the card with ``card_key``
    signed; raises CardMacError otherwise."""
    _verify(card_key, load_mac_input(load), load.mac, "load")


def verify_transaction(card_key: bytes, transaction: CardTransaction) -> None:
    """``verify_debit`` or ``verify_load``, whichever ``transaction`` needs."""
    if isinstance(transaction, CardDebit):
        verify_debit(card_key, transaction)
    else:
        verify_load(card_key, transaction)


def debit_to_bytes(debit: CardDebit) -> bytes:
    """The transport form: the MAC input followed by the 16-byte MAC."""
    return debit_mac_input(debit) + debit.mac


def load_to_bytes(load: CardLoad) -> bytes:
    """The transport form: the MAC input followed by the 16-byte MAC."""
    return load_mac_input(load) + load.mac


def debit_from_bytes(data: bytes) -> CardDebit:
    """Parses ``debit_to_bytes`` output without verifying the MAC; raises
    CardRecordError for anything else. Verify before trusting the result."""
    fields, mac = _parse(CARD_DEBIT_DOMAIN, data)
    return CardDebit(*fields, mac=mac)


def load_from_bytes(data: bytes) -> CardLoad:
    """Parses ``load_to_bytes`` output without verifying the MAC; raises
    CardRecordError for anything else. Verify before trusting the result."""
    fields, mac = _parse(CARD_LOAD_DOMAIN, data)
    return CardLoad(*fields, mac=mac)


def _fields_of(transaction: CardTransaction) -> _Fields:
    at = transaction.tapped_at if isinstance(transaction, CardDebit) else transaction.loaded_at
    return _Fields(
        transaction.card_id,
        transaction.counter,
        transaction.amount_minor,
        transaction.balance_after_minor,
        transaction.device_id,
        at,
    )


def _verify(card_key: bytes, mac_input: bytes, mac: bytes, kind: str) -> None:
    if not hmac.compare_digest(aes_cmac(card_key, mac_input), mac):
        raise CardMacError(f"the {kind}'s MAC does not verify under this card key")


def _utc(at: datetime, name: str) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise CardRecordError(f"{name} must be an aware datetime, not a naive one")
    return at.astimezone(UTC)


def _check_mac_length(mac: bytes) -> None:
    if len(mac) != MAC_LENGTH:
        raise CardRecordError(f"a card MAC has {MAC_LENGTH} bytes, not {len(mac)}")


def _body(domain: bytes, fields: _Fields) -> bytes:
    """Validates every field while encoding it, so nothing out of range is signed."""
    return b"".join(
        (
            domain,
            _text(fields.card_id, "card_id"),
            _integer(fields.counter, "counter", 0, UINT32_MAX, 4),
            _integer(fields.amount_minor, "amount_minor", 0, UINT32_MAX, 4),
            _integer(fields.balance_after_minor, "balance_after_minor", _INT64_MIN, _INT64_MAX, 8),
            _text(fields.device_id, "device_id"),
            _instant(fields.at, _TIME_FIELD[domain]),
        )
    )


def _integer(value: int, name: str, low: int, high: int, width: int) -> bytes:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise CardRecordError(f"{name} must be an integer in {low}..{high}, not {value!r}")
    return value.to_bytes(width, "big", signed=low < 0)


def _text(value: str, name: str) -> bytes:
    if not isinstance(value, str) or not value:
        raise CardRecordError(f"{name} must be a non-empty string, not {value!r}")
    encoded = value.encode("utf-8")
    if len(encoded) > _TEXT_MAX:
        raise CardRecordError(f"{name} has {len(encoded)} UTF-8 bytes; at most {_TEXT_MAX} fit")
    return len(encoded).to_bytes(2, "big") + encoded


def _instant(at: datetime, name: str) -> bytes:
    """Microseconds since the Unix epoch, signed 64-bit big-endian."""
    return ((_utc(at, name) - _EPOCH) // _MICROSECOND).to_bytes(8, "big", signed=True)


class _Cursor:
    """Reads the fields of a record in order, naming the field it ran out in."""

    def __init__(self, data: bytes, offset: int) -> None:
        self._data = data
        self._offset = offset

    def take(self, length: int, name: str) -> bytes:
        end = self._offset + length
        if end > len(self._data):
            raise CardRecordError(f"the record ends inside {name}")
        chunk, self._offset = self._data[self._offset : end], end
        return chunk

    def integer(self, width: int, name: str, *, signed: bool = False) -> int:
        return int.from_bytes(self.take(width, name), "big", signed=signed)

    def text(self, name: str) -> str:
        raw = self.take(self.integer(2, name), name)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CardRecordError(f"{name} is not valid UTF-8") from exc

    def instant(self, name: str) -> datetime:
        try:
            return _EPOCH + self.integer(8, name, signed=True) * _MICROSECOND
        except OverflowError as exc:
            raise CardRecordError(f"{name} lies outside the years 1..9999") from exc

    def rest(self) -> bytes:
        return self._data[self._offset :]


def _parse(domain: bytes, data: bytes) -> tuple[_Fields, bytes]:
    if not data.startswith(domain):
        raise CardRecordError(f"the bytes do not start with the domain tag {domain!r}")
    cursor = _Cursor(data, len(domain))
    fields = _Fields(
        card_id=cursor.text("card_id"),
        counter=cursor.integer(4, "counter"),
        amount_minor=cursor.integer(4, "amount_minor"),
        balance_after_minor=cursor.integer(8, "balance_after_minor", signed=True),
        device_id=cursor.text("device_id"),
        at=cursor.instant(_TIME_FIELD[domain]),
    )
    mac = cursor.rest()
    if len(mac) != MAC_LENGTH:
        raise CardRecordError(f"a {MAC_LENGTH}-byte MAC must end the record, not {len(mac)} bytes")
    return fields, mac
