"""The wallet domain's immutable records and the pure rules that check and
normalize what wallet providers send."""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import datetime
from enum import StrEnum
from typing import NamedTuple

from clearing.errors import ConflictError, InvalidRequestError
from clearing.values import Money, ParticipantId

MAX_KEY_LENGTH = 64
MAX_REASON_LENGTH = 200
MAX_SERIAL = 2**63 - 1
"""Serials are stored as signed 64-bit integers on both databases."""

_CATEGORY = re.compile(r"^[\x21-\x7e]{1,16}$")
_E164 = re.compile(r"^\+[1-9][0-9]{7,14}$")
_PHONE_PUNCTUATION = re.compile(r"[\s\-.()]")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
_UID_HEX = re.compile(r"^([0-9a-f]{2}){0,16}$")


class ProxyKind(StrEnum):
    PHONE = "phone"
    EMAIL = "email"


class Proxy(NamedTuple):
    """An alias of a rider account, already normalized."""

    kind: ProxyKind
    value: str


class RiderAccount(NamedTuple):
    """A rider at a wallet provider.

    account_id: the provider's key, unique across providers.
    medium_token: what taps and ride codes carry (``medium_token_for``).
    """

    account_id: str
    issuer_id: ParticipantId
    rider_category: str
    currency: str
    medium_token: str
    opened_at: datetime


class TopUp(NamedTuple):
    """Money a rider paid in. ``card_id`` is empty for the account's own funds."""

    top_up_id: str
    account_id: str
    card_id: str
    amount: Money
    source: str
    transfer_id: uuid.UUID
    created_at: datetime


class VirtualCard(NamedTuple):
    """A stored-value card on a phone; its value is its own ledger account."""

    card_id: str
    account_id: str
    medium_token: str
    uid_hex: str
    provisioned_at: datetime


class ResolvedProxy(NamedTuple):
    proxy: Proxy
    issuer_id: ParticipantId
    account_id: str


class Balances(NamedTuple):
    """Posted balances: the account's funds, then each card's, by card id."""

    account: Money
    cards: tuple[tuple[VirtualCard, Money], ...]


def check_key(value: str, field: str) -> str:
    """An idempotency key or id: 1 to 64 printable characters, no surrounding spaces."""
    if (
        not value
        or len(value) > MAX_KEY_LENGTH
        or not value.isprintable()
        or value != value.strip()
    ):
        raise InvalidRequestError(
            f"{field} must be 1 to {MAX_KEY_LENGTH} printable characters without surrounding "
            f"spaces, not {value!r}",
            field=field,
        )
    return value


def check_category(value: str) -> str:
    """A rider category fits the ride credential: 1 to 16 printable ASCII, no spaces."""
    if not _CATEGORY.match(value):
        raise InvalidRequestError(
            f"rider_category must be 1 to 16 printable ASCII characters without spaces, "
            f"not {value!r}",
            field="rider_category",
        )
    return value


def check_reason(value: str) -> str:
    if len(value) > MAX_REASON_LENGTH:
        raise InvalidRequestError(
            f"reason must be at most {MAX_REASON_LENGTH} characters", field="reason"
        )
    return value


def check_serial(value: int, field: str = "serial") -> int:
    if not 1 <= value <= MAX_SERIAL:
        raise InvalidRequestError(f"{field} must be from 1 to 2^63-1, not {value}", field=field)
    return value


def check_uid_hex(value: str) -> str:
    lowered = value.lower()
    if not _UID_HEX.match(lowered):
        raise InvalidRequestError(
            "uid_hex must be up to 16 bytes of hexadecimal digits", field="uid_hex"
        )
    return lowered


def normalize_proxy(kind: ProxyKind, value: str) -> Proxy:
    """Phones become E.164 (``+`` and 8 to 15 digits, punctuation dropped);
    e-mail addresses are trimmed and lower-cased. Raises InvalidRequestError."""
    if kind is ProxyKind.PHONE:
        phone = _PHONE_PUNCTUATION.sub("", value)
        if not _E164.match(phone):
            raise InvalidRequestError(
                f"a phone proxy is an E.164 number such as +6591234567, not {value!r}",
                field="proxy.value",
            )
        return Proxy(kind, phone)
    email = value.strip().lower()
    if len(email) > 254 or not _EMAIL.match(email):
        raise InvalidRequestError(
            f"an e-mail proxy is an address such as ana@example.com, not {value!r}",
            field="proxy.value",
        )
    return Proxy(kind, email)


def medium_token_for(issuer_id: ParticipantId, kind: str, key: str) -> str:
    """A stable, opaque token for an account (``kind`` "rt") or a virtual card
    ("vc"). Readers and ride codes carry it, so it reveals neither the
    provider's key nor the rider; 128 bits keep collisions out of reach, and
    its 35 characters fit the ride credential's 64."""
    digest = hashlib.sha256("\x1f".join((issuer_id, kind, key)).encode()).hexdigest()
    return f"{kind}-{digest[:32]}"


def check_same(what: str, **pairs: tuple[object, object]) -> None:
    """Raises ConflictError naming the first field whose (stored, wanted) differ:
    how a retried write with different content is told from a true retry."""
    for field, (stored, wanted) in pairs.items():
        if stored != wanted:
            raise ConflictError(f"{what} exists with a different {field}", field=field)
