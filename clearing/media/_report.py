"""The continuity of every card's debits, from the records clearing kept.

Forged debits never get this far (ingest refuses them); what this finds is
what only the whole history shows: counters that never arrived (a reader
that lost debits), counters seen twice with different content (a cloned
card), and balances that do not follow from the debit before.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from clearing.storage.models import CardDebitRow
from farebridge.codecs.cards import CardDebit, ContinuityReport, check_continuity


def card_continuity(session: Session) -> ContinuityReport:
    """Checks every stored debit of every card, as one history per card.

    Each card's chain starts at its lowest stored counter: the debits before
    the first one clearing saw (and the loads between debits, which cards
    make at ticket machines) are not in this record.
    """
    rows = session.scalars(
        select(CardDebitRow).order_by(CardDebitRow.card_id, CardDebitRow.counter)
    )
    debits = [
        CardDebit(
            card_id=row.card_id, counter=row.counter, amount_minor=row.amount_minor,
            balance_after_minor=row.balance_after_minor, device_id=row.device_id,
            tapped_at=row.tapped_at, mac=bytes(row.mac),
        )
        for row in rows
    ]  # fmt: skip
    return check_continuity(debits, {})
