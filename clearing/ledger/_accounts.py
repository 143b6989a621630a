"""Ledger accounts and their derived identifiers."""

from __future__ import annotations

import functools
import hashlib
import uuid
from collections.abc import Callable
from enum import StrEnum
from typing import NamedTuple

from clearing.values import Currency, MediumToken, ParticipantId

# Fixed namespace: account and transfer ids derived from it are stable across
# releases and machines, which is what makes postings idempotent.
LEDGER_NAMESPACE = uuid.UUID("6f1c4c58-2a37-4f0e-9d43-0b7a4d8f52c1")


class AccountCode(StrEnum):
    """What an account holds."""

    RIDER_FUNDS = "rider_funds"
    """A rider's funds held by the issuer of the rider's medium."""
    FARE_REVENUE = "fare_revenue"
    """Fares an operator has earned."""
    TOP_UP_FUNDING = "top_up_funding"
    """Money a wallet provider received from its riders (in its app, at a
    ticket machine) and credited to their funds: the provider's side of every
    top-up. Its debit balance is what the provider holds for its riders."""
    AGENT_CASH = "agent_cash"
    """Cash an operator's ticket machines took to top up other issuers'
    riders: the operator holds it and owes it to the issuer."""
    FX = "fx"
    """The clearing house's foreign-exchange position in one currency: a
    cross-currency fare enters it in the rider's currency and leaves it in
    the operator's, so each currency balances on its own."""
    CLEARING_FEES = "clearing_fees"
    """Clearing fees a participant was charged (or refunded)."""
    FEE_REVENUE = "fee_revenue"
    """The clearing house's earned clearing fees."""
    SETTLEMENT = "settlement"
    """A participant's settlement with the clearing house: credited with what
    it pays in, debited with what it is paid out."""
    SETTLEMENT_POOL = "settlement_pool"
    """The clearing house's settlement account every pay-in enters and every
    pay-out leaves; it nets to zero in each cycle and currency."""


class AccountRef(NamedTuple):
    """Names an account by meaning; its id is derived, never looked up.

    participant_id: the participant that owns the account.
    code: what the account holds.
    currency: the only currency the account moves.
    medium_token: for rider accounts, the medium they fund; otherwise None.
    """

    participant_id: ParticipantId
    code: AccountCode
    currency: Currency
    medium_token: MediumToken | None = None


def _hashed(prefix: str) -> Callable[[str], int]:
    """The first 128 bits of SHA-1(LEDGER_NAMESPACE, prefix, name), as in
    ``uuid.uuid5``, as a function of name; the prefix is hashed once."""
    hashed = hashlib.sha1(LEDGER_NAMESPACE.bytes + prefix.encode(), usedforsecurity=False)

    def digest(name: str) -> int:
        copy = hashed.copy()
        copy.update(name.encode())
        return int.from_bytes(copy.digest()[:16])

    return digest


_new_object = object.__new__
_set_field = object.__setattr__


def _uuid(value: int) -> uuid.UUID:
    """``uuid.UUID(int=value)`` for a value known to fit in 128 bits, in
    less than half the time: the constructor's checks of its other four
    forms run in Python for every id, and each tap derives one. The fields
    set are the two the constructor sets (``UUID.__slots__``)."""
    made = _new_object(uuid.UUID)
    _set_field(made, "int", value)
    _set_field(made, "is_safe", uuid.SafeUUID.unknown)
    return made


def _derived(prefix: str) -> Callable[[str], uuid.UUID]:
    """``uuid.uuid5(LEDGER_NAMESPACE, prefix + name)`` as a function of name,
    twice as fast: the version and variant bits are set on the integer.
    Every tap derives several ids."""
    digest = _hashed(prefix)

    def derive(name: str) -> uuid.UUID:
        return _uuid((digest(name) & _VERSION_CLEAR) | _VERSION_5)

    return derive


# RFC 9562: the version in bits 76-79, variant 0b10 in bits 62-63.
_VERSION_CLEAR = ~((0xF << 76) | (0x3 << 62)) & ((1 << 128) - 1)
_VERSION_5 = (5 << 76) | (0x2 << 62)
_VERSION_8 = (8 << 76) | (0x2 << 62)
_LOW_80 = (1 << 80) - 1
_account_id = _derived("account\x1f")
_transfer_id = _derived("transfer\x1f")
_fare_digest = _hashed("transfer\x1ffare\x1f")
_device_digest = _hashed("device\x1f")
_LOW_32 = (1 << 32) - 1


@functools.lru_cache(maxsize=65_536)
def account_id_for(ref: AccountRef) -> uuid.UUID:
    """A deterministic 128-bit id, so the tap path creates accounts with an
    insert-if-missing instead of a lookup. Remembered: every tap of a batch
    names its operator's revenue account, and riders tap again."""
    name = "\x1f".join((ref.participant_id, ref.code.value, ref.currency, ref.medium_token or ""))
    return _account_id(name)


def transfer_id_for(kind: str, source_ref: str) -> uuid.UUID:
    """A deterministic transfer id for a business event, so that posting the
    same event twice answers ``exists`` instead of moving money twice."""
    return _transfer_id(f"{kind}\x1f{source_ref}")


def fare_transfer_id(device_id: str, device_sequence: int, tap_id: str) -> uuid.UUID:
    """The id of the transfer that charges a tap its fare: deterministic,
    like ``transfer_id_for``, and in each reader's tap order.

    A UUIDv8 (RFC 9562): 16 bits of the reader's hash, then the tap's
    sequence number on its reader (32 bits, modulo 2**32), then, around the
    version and variant bits, the low bits of ``transfer_id_for("fare",
    tap_id)``. Random ids land each insert on its own page of the primary
    key, written whole at every commit; a reader's batch of fares lands on
    a few neighbouring pages instead (TigerBeetle advises ordered ids for
    the same reason). Everything it is made of is in the reader's log, so
    an auditor derives it from a tap; a reader's clock is not, so a skewed
    clock never changes the ledger.
    """
    prefix = _reader_bits(device_id) | (device_sequence & _LOW_32) << 80
    low = _fare_digest(tap_id) & _LOW_80
    return _uuid(prefix | (low & _VERSION_CLEAR) | _VERSION_8)


@functools.lru_cache(maxsize=65_536)
def _reader_bits(device_id: str) -> int:
    """The reader's 16 bits, in place; remembered, as a batch is one reader's."""
    return (_device_digest(device_id) >> 112) << 112
