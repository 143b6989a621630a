"""Stored-value card cryptography, shared by readers, the card simulator and clearing.

Keys
----
Every card has its own AES-128 key, diversified from the issuer's master key
by NXP AN10922 §2.2 (``card_key``, ``diversify_aes128``) with input
UID || AID || system identifier. Only the issuer (to personalize cards) and
the clearing house (to verify what cards signed) hold the master key. A reader
holds no key at all: it forwards what the card signed.

Records
-------
A card signs a ``CardDebit`` when it pays a fare and a ``CardLoad`` when value
is added. Both take the next value of the card's transaction counter, so
together they form one chain per card that ``check_continuity`` checks.

Each MAC is the full 16-byte AES-CMAC (RFC 4493, ``aes_cmac``) under the card
key over these bytes, with every integer big-endian::

    domain tag           b"farebridge.v1.CardDebit\\x00" (24 bytes)
                         or b"farebridge.v1.CardLoad\\x00" (23 bytes)
    card_id              uint16 length, then that many bytes of UTF-8
    counter              uint32
    amount_minor         uint32
    balance_after_minor  int64, two's complement
    device_id            uint16 length, then that many bytes of UTF-8
    tapped_at/loaded_at  int64 microseconds since 1970-01-01T00:00:00Z

The domain tag keeps a debit's MAC from ever passing as a load's (or as any
other farebridge message's). The transport form (``debit_to_bytes``,
``load_to_bytes``) is exactly these bytes followed by the 16-byte MAC; every
field has one encoding, so decoding and re-encoding gives back the same bytes.
"""

from farebridge.codecs._cards_continuity import (
    BalanceBreak,
    CardCounter,
    CardKeyLookup,
    CardState,
    ContinuityReport,
    CounterConflict,
    CounterGap,
    check_continuity,
)
from farebridge.codecs._cards_errors import CardError, CardKeyError, CardMacError, CardRecordError
from farebridge.codecs._cards_keys import aes_cmac, card_key, diversify_aes128
from farebridge.codecs._cards_records import (
    CARD_DEBIT_DOMAIN,
    CARD_LOAD_DOMAIN,
    MAC_LENGTH,
    CardDebit,
    CardLoad,
    CardTransaction,
    debit_from_bytes,
    debit_mac_input,
    debit_to_bytes,
    load_from_bytes,
    load_mac_input,
    load_to_bytes,
    sign_debit,
    sign_load,
    verify_debit,
    verify_load,
    verify_transaction,
)

__all__ = [
    "CARD_DEBIT_DOMAIN",
    "CARD_LOAD_DOMAIN",
    "MAC_LENGTH",
    "BalanceBreak",
    "CardCounter",
    "CardDebit",
    "CardError",
    "CardKeyError",
    "CardKeyLookup",
    "CardLoad",
    "CardMacError",
    "CardRecordError",
    "CardState",
    "CardTransaction",
    "ContinuityReport",
    "CounterConflict",
    "CounterGap",
    "aes_cmac",
    "card_key",
    "check_continuity",
    "debit_from_bytes",
    "debit_mac_input",
    "debit_to_bytes",
    "diversify_aes128",
    "load_from_bytes",
    "load_mac_input",
    "load_to_bytes",
    "sign_debit",
    "sign_load",
    "verify_debit",
    "verify_load",
    "verify_transaction",
]
