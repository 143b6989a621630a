"""The errors of stored-value card cryptography, one root for all of them."""

from __future__ import annotations


class CardError(Exception):
    """Root of every error raised by ``farebridge.codecs.cards``.

    Catch this to handle any card-cryptography failure in one place; catch a
    subclass to tell a bad argument from a bad record from a forged one.
    """


class CardKeyError(CardError, ValueError):
    """A key or a key-diversification input has the wrong length.

    AES-128 keys are 16 bytes; a card UID is 4, 7 or 10 bytes; UID, AID and
    system identifier together may not exceed 31 bytes (AN10922 leaves one
    byte of its 32-byte input for the diversification constant). Check which
    bytes you passed: a hex string not yet decoded is a common cause.
    """


class CardRecordError(CardError, ValueError):
    """A card record cannot be built or decoded: a field is out of its range
    (counter and amount are unsigned 32-bit, the balance signed 64-bit, the
    time aware), or transported bytes are truncated, carry trailing bytes or
    another record's domain tag. The message names the field; the record must
    be rejected, since no honest card produces it."""


class CardMacError(CardError):
    """The record's MAC does not verify under the card key it was checked
    with: the record was altered after the card signed it, was made by
    something other than the card, or was checked with another card's key.
    Never credit or debit anyone for it; report it as forged."""
