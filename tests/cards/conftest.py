"""Stored-value cards for the tests: one issuer, its cards, and card histories
written as tables, one signed record per line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from farebridge.codecs.cards import CardTransaction, card_key, sign_debit, sign_load

# The issuer of the tests reuses the parameters of NXP AN10922's AES-128 example.
MASTER_KEY = bytes.fromhex("00112233445566778899AABBCCDDEEFF")
AID = bytes.fromhex("3042F5")
SYSTEM_ID = b"NXP Abu"

ALICE_UID = bytes.fromhex("04782E21801D80")
BOB_UID = bytes.fromhex("04112233445566")
ALICE = "tok-alice"
BOB = "tok-bob"
UIDS = {ALICE: ALICE_UID, BOB: BOB_UID}

DAY = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)


def key_of(card_id: str) -> bytes:
    return card_key(MASTER_KEY, UIDS[card_id], AID, SYSTEM_ID)


def known_keys(card_id: str) -> bytes | None:
    """The clearing house's key lookup: it knows the issuer's cards only."""
    return key_of(card_id) if card_id in UIDS else None


def history(card_id: str, table: str) -> list[CardTransaction]:
    """Signs one record per table line: ``counter kind amount balance_after device``.

    Lines starting with ``#`` are headings. Record n happens n minutes into the day.
    """
    lines = [line.split() for line in table.strip().splitlines()]
    return [record(card_id, *line) for line in lines if not line[0].startswith("#")]


def record(
    card_id: str, counter: str, kind: str, amount: str, balance: str, device: str
) -> CardTransaction:
    """One line of a history table, signed with the card's key."""
    assert kind in {"load", "debit"}, kind
    key, at = key_of(card_id), DAY + timedelta(minutes=int(counter))
    if kind == "load":
        return sign_load(
            key,
            card_id=card_id,
            counter=int(counter),
            amount_minor=int(amount),
            balance_after_minor=int(balance),
            device_id=device,
            loaded_at=at,
        )
    return sign_debit(
        key,
        card_id=card_id,
        counter=int(counter),
        amount_minor=int(amount),
        balance_after_minor=int(balance),
        device_id=device,
        tapped_at=at,
    )
