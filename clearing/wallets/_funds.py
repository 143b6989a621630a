"""Money in (top-ups), money held (balances) and money spent (journeys).

A top-up is one ledger transfer inside the provider's books: from its
``top_up_funding`` account (what riders paid it) to the rider's
``rider_funds`` account of the account's token, or of one virtual card's.
Fares later debit that same rider account (see clearing/ingest), so a
balance is simply the account's posted credits minus its posted debits.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from clearing import registry
from clearing.errors import InvalidRequestError
from clearing.ledger import (
    MAX_AMOUNT,
    AccountCode,
    AccountRef,
    Posting,
    account_id_for,
    balances,
    post_or_raise,
    posted_only,
    transfer_id_for,
)
from clearing.storage._runs import TAPS_BY_MEDIUM, key_among
from clearing.storage.models import (
    LedgerAccountRow,
    LedgerTransferRow,
    TapRow,
    UnpricedTapRow,
    WalletTopUpRow,
)
from clearing.values import Direction, Money, ParticipantId
from clearing.wallets._accounts import cards_of, owned_account, owned_card
from clearing.wallets._values import Balances, RiderAccount, TopUp, check_key, check_same
from farebridge.codecs.emvco import EmvcoError, top_up_qr

MAX_JOURNEY_TAPS = 1000
"""One answer's bound; a longer history is read in narrower time ranges."""
TOP_UP_TEMPLATE_ID = "26"
TOP_UP_RECORD = "T1"
"""Sub-object 01 of farebridge's top-up template: record type T, layout 1."""


class FareComponent(NamedTuple):
    operator_id: ParticipantId
    amount: Money
    transfer_id: uuid.UUID


class JourneyTap(NamedTuple):
    """A tap of the account's media with what it was charged so far."""

    tap_id: str
    tapped_at: datetime
    operator_id: ParticipantId
    device_id: str
    direction: Direction
    medium_token: str
    fares: tuple[FareComponent, ...]
    unpriced_reason: str


def _check_amount(amount: Money, account: RiderAccount) -> None:
    if not 0 < amount.minor_units <= MAX_AMOUNT:
        raise InvalidRequestError("amount must be positive", field="amount.minor_units")
    if amount.currency != account.currency:
        raise InvalidRequestError(
            f"account {account.account_id!r} holds {account.currency}, not {amount.currency}",
            field="amount.currency",
        )


def _top_up(row: WalletTopUpRow) -> TopUp:
    return TopUp(
        row.top_up_id,
        row.account_id,
        row.card_id,
        Money(row.amount_minor, row.currency),
        row.source,
        row.transfer_id,
        row.created_at,
    )


def top_up(session: Session, issuer_id: ParticipantId, wanted: TopUp, *, now: datetime) -> TopUp:
    """Posts ``wanted`` (its transfer_id and created_at are ignored), or
    answers the top-up stored under its id. A stored top-up with different
    content is a ConflictError naming the field, and nothing is posted."""
    check_key(wanted.top_up_id, "top_up_id")
    check_key(wanted.source, "source")
    account = owned_account(session, issuer_id, wanted.account_id)
    token = account.medium_token
    if wanted.card_id:
        token = owned_card(session, account, wanted.card_id).medium_token
    _check_amount(wanted.amount, account)
    stored = session.get(WalletTopUpRow, (issuer_id, wanted.top_up_id))
    if stored is not None:
        original = _top_up(stored)
        check_same(
            f"top-up {wanted.top_up_id!r}",
            account_id=(original.account_id, wanted.account_id),
            card_id=(original.card_id, wanted.card_id),
            amount=(original.amount, wanted.amount),
            source=(original.source, wanted.source),
        )
        return original
    currency = account.currency
    posting = Posting(
        transfer_id=transfer_id_for("top_up", f"{issuer_id}\x1f{wanted.top_up_id}"),
        debit=AccountRef(issuer_id, AccountCode.TOP_UP_FUNDING, currency),
        credit=AccountRef(issuer_id, AccountCode.RIDER_FUNDS, currency, token),
        amount=wanted.amount,
        code="top_up",
        user_data=wanted.top_up_id,
    )
    post_or_raise(session, [posting], now)
    row = WalletTopUpRow(
        issuer_id=issuer_id,
        top_up_id=wanted.top_up_id,
        account_id=account.account_id,
        card_id=wanted.card_id,
        amount_minor=wanted.amount.minor_units,
        currency=currency,
        source=wanted.source,
        transfer_id=posting.transfer_id,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return _top_up(row)


def _funds_ref(account: RiderAccount, token: str) -> AccountRef:
    return AccountRef(account.issuer_id, AccountCode.RIDER_FUNDS, account.currency, token)


def account_balances(
    session: Session, issuer_id: ParticipantId, account_id: str, now: datetime
) -> Balances:
    """Posted balances (credits minus debits) of the account and its cards."""
    account = owned_account(session, issuer_id, account_id)
    cards = cards_of(session, account)
    tokens = [account.medium_token, *(card.medium_token for card in cards)]
    ids = [account_id_for(_funds_ref(account, token)) for token in tokens]
    counters = balances(session, ids, now)
    posted = [
        Money(counters[i].credits_posted - counters[i].debits_posted, account.currency) for i in ids
    ]
    return Balances(posted[0], tuple(zip(cards, posted[1:], strict=True)))


def journeys(
    session: Session,
    issuer_id: ParticipantId,
    account_id: str,
    start: datetime | None,
    end: datetime | None,
) -> list[JourneyTap]:
    """The taps of the account's token and its cards' in [start, end), with
    the fare transfers that charged them (each tap's user_data)."""
    account = owned_account(session, issuer_id, account_id)
    tokens = [account.medium_token, *(c.medium_token for c in cards_of(session, account))]
    query = select(TapRow).where(key_among(session, TAPS_BY_MEDIUM, tokens))
    if start is not None:
        query = query.where(TapRow.tapped_at >= start)
    if end is not None:
        query = query.where(TapRow.tapped_at < end)
    taps = list(
        session.scalars(query.order_by(TapRow.tapped_at, TapRow.tap_id).limit(MAX_JOURNEY_TAPS))
    )
    tap_ids = [tap.tap_id for tap in taps]
    fares = _fares(session, account, tokens, tap_ids)
    unpriced = dict(
        session.execute(
            select(UnpricedTapRow.tap_id, UnpricedTapRow.reason).where(
                UnpricedTapRow.tap_id.in_(tap_ids)
            )
        ).all()
    )
    return [
        JourneyTap(
            tap.tap_id,
            tap.tapped_at,
            tap.operator_id,
            tap.device_id,
            Direction(tap.direction),
            tap.medium_token,
            tuple(fares.get(tap.tap_id, ())),
            unpriced.get(tap.tap_id, ""),
        )
        for tap in taps
    ]


def _fares(
    session: Session, account: RiderAccount, tokens: list[str], tap_ids: list[str]
) -> dict[str, list[FareComponent]]:
    rider_accounts = [account_id_for(_funds_ref(account, token)) for token in tokens]
    query = (
        select(
            LedgerTransferRow.user_data,
            LedgerAccountRow.participant_id,
            LedgerTransferRow.amount,
            LedgerTransferRow.currency,
            LedgerTransferRow.transfer_id,
        )
        .join(LedgerAccountRow, LedgerAccountRow.account_id == LedgerTransferRow.credit_account_id)
        .where(
            LedgerTransferRow.user_data.in_(tap_ids),
            LedgerTransferRow.code == "fare",
            LedgerTransferRow.debit_account_id.in_(rider_accounts),
            posted_only(),
        )
        .order_by(LedgerTransferRow.created_at, LedgerTransferRow.transfer_id)
    )
    found: dict[str, list[FareComponent]] = defaultdict(list)
    for tap_id, operator_id, amount, currency, transfer_id in session.execute(query):
        found[tap_id].append(FareComponent(operator_id, Money(amount, currency), transfer_id))
    return found


def top_up_payload(
    session: Session,
    issuer_id: ParticipantId,
    account_id: str,
    amount: Money,
    reference: str,
    *,
    merchant_city: str,
    country: str,
) -> str:
    """An EMVCo dynamic payload for ``amount``, payable to the provider, whose
    farebridge template (tag 26: GUID, ``T1``, provider, account) says which
    account to credit and whose bill number (62.01) is ``reference``."""
    account = owned_account(session, issuer_id, account_id)
    _check_amount(amount, account)
    if not reference or len(reference) > 25:
        raise InvalidRequestError("reference must be 1 to 25 characters", field="reference")
    provider = registry.participant_for(session, issuer_id)
    assert provider is not None  # owned_account found the provider's account
    template = {"00": "io.farebridge", "01": TOP_UP_RECORD, "02": issuer_id, "03": account_id}
    try:
        return top_up_qr(
            merchant_accounts={TOP_UP_TEMPLATE_ID: template},
            merchant_name=provider.display_name[:25],
            merchant_city=merchant_city,
            country=country,
            amount_minor=amount.minor_units,
            currency=amount.currency,
            reference=reference,
        )
    except EmvcoError as error:
        raise InvalidRequestError(f"no valid top-up QR: {error}", field="request") from None
