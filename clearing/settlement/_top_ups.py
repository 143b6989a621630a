"""Add-value at a service provider: an operator's ticket machine takes a
rider's cash to top up a medium another participant issued (as Octopus
service providers do).

One ledger transfer: from the operator's ``agent_cash`` account (the cash it
holds) to the rider's funds at the issuer (what the issuer now owes the
rider). Clearing then shows the operator owing the issuer the cash.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from clearing.errors import ConflictError, InvalidRequestError, NotFoundError
from clearing.ledger import (
    MAX_AMOUNT,
    AccountCode,
    AccountRef,
    Posting,
    post_or_raise,
    transfer_id_for,
)
from clearing.storage.models import AgentTopUpRow, MediumRow, ParticipantRow
from clearing.values import Money, ParticipantId

MAX_KEY_LENGTH = 64


class AgentTopUp(NamedTuple):
    """A cash top-up taken by ``operator_id`` for the issuer of ``medium_token``."""

    operator_id: ParticipantId
    top_up_id: str
    medium_token: str
    amount: Money
    issuer_id: ParticipantId = ""


def _stored(row: AgentTopUpRow) -> AgentTopUp:
    return AgentTopUp(
        row.operator_id, row.top_up_id, row.medium_token,
        Money(row.amount_minor, row.currency), row.issuer_id,
    )  # fmt: skip


def _check(wanted: AgentTopUp) -> None:
    if not 0 < len(wanted.top_up_id) <= MAX_KEY_LENGTH:
        raise InvalidRequestError("top_up_id must be 1 to 64 characters", field="top_up_id")
    if not 0 < wanted.amount.minor_units <= MAX_AMOUNT:
        raise InvalidRequestError("amount must be positive", field="amount.minor_units")


def _issuer(session: Session, token: str) -> tuple[ParticipantId, str]:
    found = session.execute(
        select(MediumRow.issuer_id, ParticipantRow.settlement_currency)
        .join(ParticipantRow, ParticipantRow.participant_id == MediumRow.issuer_id)
        .where(MediumRow.medium_token == token)
    ).first()
    if found is None:
        raise NotFoundError(f"medium {token!r} is not registered by any issuer")
    return found[0], found[1]


def record_agent_top_up(session: Session, wanted: AgentTopUp, now: datetime) -> AgentTopUp:
    """Posts the top-up, or answers the one stored under the operator's key.
    The same key with different content is a ConflictError naming the field."""
    _check(wanted)
    stored = session.get(AgentTopUpRow, (wanted.operator_id, wanted.top_up_id))
    if stored is not None:
        original = _stored(stored)
        for name in ("medium_token", "amount"):
            if getattr(original, name) != getattr(wanted, name):
                raise ConflictError(
                    f"top-up {wanted.top_up_id!r} was recorded with another {name}", field=name
                )
        return original
    issuer, currency = _issuer(session, wanted.medium_token)
    if wanted.amount.currency != currency:
        raise InvalidRequestError(
            f"{issuer} holds riders' funds in {currency}, not {wanted.amount.currency}",
            field="amount.currency",
        )
    posting = Posting(
        transfer_id=transfer_id_for("agent_top_up", f"{wanted.operator_id}\x1f{wanted.top_up_id}"),
        debit=AccountRef(wanted.operator_id, AccountCode.AGENT_CASH, currency),
        credit=AccountRef(issuer, AccountCode.RIDER_FUNDS, currency, wanted.medium_token),
        amount=wanted.amount,
        code="agent_top_up",
        user_data=wanted.top_up_id,
    )
    post_or_raise(session, [posting], now)
    session.add(
        AgentTopUpRow(
            operator_id=wanted.operator_id, top_up_id=wanted.top_up_id,
            medium_token=wanted.medium_token, issuer_id=issuer,
            amount_minor=wanted.amount.minor_units, currency=currency,
            transfer_id=posting.transfer_id, created_at=now,
        )
    )  # fmt: skip
    session.flush()
    return wanted._replace(issuer_id=issuer)
