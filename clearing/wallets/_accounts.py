"""Rider accounts, their virtual cards and the central proxy directory.

Ownership is checked here, once: ``owned_account`` is the only way the other
modules reach an account, and it refuses another provider's.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from clearing import registry
from clearing.errors import ConflictError, ForbiddenError, InvalidRequestError, NotFoundError
from clearing.storage.models import VirtualCardRow, WalletAccountRow, WalletProxyRow
from clearing.values import ParticipantId, Role, check_currency
from clearing.wallets._values import (
    Proxy,
    ResolvedProxy,
    RiderAccount,
    VirtualCard,
    check_category,
    check_key,
    check_same,
    check_uid_hex,
    medium_token_for,
)


def _account(row: WalletAccountRow) -> RiderAccount:
    return RiderAccount(
        row.account_id,
        row.issuer_id,
        row.rider_category,
        row.currency,
        row.medium_token,
        row.opened_at,
    )


def _card(row: VirtualCardRow) -> VirtualCard:
    return VirtualCard(
        row.card_id, row.account_id, row.medium_token, row.uid_hex, row.provisioned_at
    )


def _settlement_currency(session: Session, issuer_id: ParticipantId) -> str:
    issuer = registry.participant_for(session, issuer_id)
    if issuer is None or issuer.role is not Role.ISSUER:
        raise ForbiddenError(f"{issuer_id!r} is not a registered issuer")
    return issuer.settlement_currency


def open_account(
    session: Session,
    issuer_id: ParticipantId,
    account_id: str,
    rider_category: str,
    currency: str,
    *,
    now: datetime,
) -> RiderAccount:
    """Opens an account, or answers the one opened before under ``account_id``.

    The rider's funds are held in the provider's settlement currency: that is
    the currency fares are charged in today, so any other is refused.
    """
    check_key(account_id, "account_id")
    check_category(rider_category)
    held_in = _settlement_currency(session, issuer_id)
    currency = check_currency(currency or held_in)
    if currency != held_in:
        raise InvalidRequestError(
            f"{issuer_id} holds riders' funds in {held_in}, not {currency}", field="currency"
        )
    stored = session.get(WalletAccountRow, account_id)
    if stored is not None:
        return _same_account(stored, issuer_id, rider_category, currency)
    token = medium_token_for(issuer_id, "rt", account_id)
    registry.register_medium(session, token, issuer_id, now)
    row = WalletAccountRow(
        account_id=account_id,
        issuer_id=issuer_id,
        rider_category=rider_category,
        currency=currency,
        medium_token=token,
        opened_at=now,
    )
    session.add(row)
    session.flush()
    return _account(row)


def _same_account(
    stored: WalletAccountRow, issuer_id: ParticipantId, rider_category: str, currency: str
) -> RiderAccount:
    if stored.issuer_id != issuer_id:
        raise ForbiddenError(f"account {stored.account_id!r} belongs to another provider")
    check_same(
        f"account {stored.account_id!r}",
        rider_category=(stored.rider_category, rider_category),
        currency=(stored.currency, currency),
    )
    return _account(stored)


def owned_account(session: Session, issuer_id: ParticipantId, account_id: str) -> RiderAccount:
    """The caller's account, or NotFoundError; another provider's is ForbiddenError."""
    check_key(account_id, "account_id")
    row = session.get(WalletAccountRow, account_id)
    if row is None:
        raise NotFoundError(f"no account {account_id!r}")
    if row.issuer_id != issuer_id:
        raise ForbiddenError(f"account {account_id!r} belongs to another provider")
    return _account(row)


def provision_card(
    session: Session,
    issuer_id: ParticipantId,
    account_id: str,
    card_id: str,
    uid_hex: str,
    *,
    now: datetime,
) -> VirtualCard:
    """Registers a virtual card's token as the provider's medium, idempotently."""
    account = owned_account(session, issuer_id, account_id)
    check_key(card_id, "card_id")
    uid = check_uid_hex(uid_hex)
    stored = session.get(VirtualCardRow, (issuer_id, card_id))
    if stored is not None:
        check_same(
            f"card {card_id!r}",
            account_id=(stored.account_id, account.account_id),
            uid_hex=(stored.uid_hex, uid),
        )
        return _card(stored)
    token = medium_token_for(issuer_id, "vc", card_id)
    registry.register_medium(session, token, issuer_id, now)
    row = VirtualCardRow(
        issuer_id=issuer_id,
        card_id=card_id,
        account_id=account.account_id,
        medium_token=token,
        uid_hex=uid,
        provisioned_at=now,
    )
    session.add(row)
    session.flush()
    return _card(row)


def cards_of(session: Session, account: RiderAccount) -> list[VirtualCard]:
    rows = session.scalars(
        select(VirtualCardRow)
        .where(VirtualCardRow.account_id == account.account_id)
        .order_by(VirtualCardRow.card_id)
    )
    return [_card(row) for row in rows]


def owned_card(session: Session, account: RiderAccount, card_id: str) -> VirtualCard:
    check_key(card_id, "card_id")
    row = session.get(VirtualCardRow, (account.issuer_id, card_id))
    if row is None or row.account_id != account.account_id:
        raise NotFoundError(f"account {account.account_id!r} has no card {card_id!r}")
    return _card(row)


def link_proxy(
    session: Session, issuer_id: ParticipantId, account_id: str, proxy: Proxy, now: datetime
) -> Proxy:
    """Links ``proxy`` to the account. Linked to this very account already: a
    harmless repeat. Linked to any other account, of any provider: a
    ConflictError that does not say which."""
    account = owned_account(session, issuer_id, account_id)
    stored = session.get(WalletProxyRow, (proxy.kind.value, proxy.value))
    if stored is not None:
        if stored.account_id != account.account_id:
            raise ConflictError("the proxy is already linked to another account", field="proxy")
        return proxy
    session.add(
        WalletProxyRow(
            proxy_type=proxy.kind.value,
            proxy_value=proxy.value,
            account_id=account.account_id,
            linked_at=now,
        )
    )
    session.flush()
    return proxy


def unlink_proxy(session: Session, issuer_id: ParticipantId, proxy: Proxy) -> str:
    """Removes the caller's link; the account it named. A proxy linked by
    another provider is NotFoundError, as if it were not linked at all."""
    row = session.get(WalletProxyRow, (proxy.kind.value, proxy.value))
    owner = None if row is None else session.get(WalletAccountRow, row.account_id)
    if row is None or owner is None or owner.issuer_id != issuer_id:
        raise NotFoundError("none of your accounts has this proxy")
    account_id = row.account_id
    session.delete(row)
    return account_id


def resolve_proxy(session: Session, proxy: Proxy) -> ResolvedProxy:
    found = session.execute(
        select(WalletAccountRow.issuer_id, WalletAccountRow.account_id)
        .join(WalletProxyRow, WalletProxyRow.account_id == WalletAccountRow.account_id)
        .where(
            WalletProxyRow.proxy_type == proxy.kind.value,
            WalletProxyRow.proxy_value == proxy.value,
        )
    ).first()
    if found is None:
        raise NotFoundError("no account has this proxy")
    return ResolvedProxy(proxy, found.issuer_id, found.account_id)
