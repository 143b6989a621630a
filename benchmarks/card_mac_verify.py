"""Card-MAC verifications per second at clearing, on one core.

Each verification parses a debit record, derives the card's key from the
issuer's master key (NXP AN10922, one AES-CMAC) and checks the debit's
AES-CMAC (RFC 4493). Printed beside it, from the same run: the same check
with the card keys already derived (a clearing house may cache them), and
bare AES-CMAC computations as the ceiling.

    .venv/bin/python benchmarks/card_mac_verify.py [--debits 20000] [--cards 2000]
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta

from clearing.media import CardScheme, verify_card_debit
from farebridge.codecs.cards import aes_cmac, debit_to_bytes
from simulators._card import SimulatedCard

MASTER = bytes.fromhex("00112233445566778899AABBCCDDEEFF")
AID = bytes.fromhex("3042F5")
SYSTEM = b"farebridge"


def _debits(debits: int, cards: int) -> list[tuple[str, bytes, bytes]]:
    wallet = [
        SimulatedCard.issue(
            f"card-{n:05d}", n.to_bytes(7, "big"), master_key=MASTER, aid=AID,
            system_identifier=SYSTEM, balance_minor=10**9,
        )
        for n in range(cards)
    ]  # fmt: skip
    start = datetime(2026, 11, 21, 7, 0, tzinfo=UTC)
    records = []
    for n in range(debits):
        card = wallet[n % cards]
        debit = card.debit(150, "gate-1", start + timedelta(seconds=n))
        records.append((card.card_id, card.uid, debit_to_bytes(debit)))
    return records


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--debits", type=int, default=20_000)
    parser.add_argument("--cards", type=int, default=2_000)
    arguments = parser.parse_args()
    records = _debits(arguments.debits, arguments.cards)
    scheme = CardScheme("issuer", AID, SYSTEM, MASTER)

    began = time.perf_counter()
    for card_id, uid, record in records:
        verify_card_debit(card_id, record, scheme, uid)
    full = len(records) / (time.perf_counter() - began)

    keys = {uid: scheme.card_key(uid) for _, uid, _ in records}
    cached = {uid: CardScheme("issuer", AID, SYSTEM, MASTER) for uid in keys}
    began = time.perf_counter()
    for card_id, uid, record in records:
        verify_card_debit(card_id, record, _KeyedScheme(cached[uid], keys[uid]), uid)
    warm = len(records) / (time.perf_counter() - began)

    began = time.perf_counter()
    for _, _, record in records:
        aes_cmac(MASTER, record[:-16])
    ceiling = len(records) / (time.perf_counter() - began)
    print(f"debits verified, deriving each card key : {full:>10,.0f}/s")
    print(f"debits verified, card keys cached       : {warm:>10,.0f}/s")
    print(f"bare AES-CMAC computations (ceiling)    : {ceiling:>10,.0f}/s")


class _KeyedScheme(CardScheme):
    """A scheme whose card key is already derived."""

    def __init__(self, scheme: CardScheme, key: bytes) -> None:
        super().__init__(scheme.issuer_id, scheme.aid, scheme.system_identifier, scheme.master_key)
        object.__setattr__(self, "_key", key)

    def card_key(self, card_uid: bytes) -> bytes:
        key: bytes = object.__getattribute__(self, "_key")
        return key


if __name__ == "__main__":
    main()
