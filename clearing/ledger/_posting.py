"""Posting transfers and reading the trial balance."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session, aliased

from clearing.ledger._accounts import LEDGER_NAMESPACE, AccountRef, account_id_for
from clearing.storage._bulk import insert_missing
from clearing.storage.models import LedgerAccountRow, LedgerTransferRow
from clearing.values import Currency, Money


class LedgerInvariantError(AssertionError):
    """A transfer would break a ledger invariant. This is a bug in the caller,
    never a user error: nothing was written."""


class Transfer(NamedTuple):
    """One balanced movement of money.

    transfer_id: 128-bit id chosen by the caller; derive it from the business
        event (``transfer_id_for``) so that a retry cannot post twice.
    debit: the account the money leaves.
    credit: the account the money enters.
    amount: a positive amount, in the currency of both accounts.
    code: why the money moved (for example ``fare``).
    source_ref: the business event it came from (a tap id, a top-up id).
    """

    transfer_id: uuid.UUID
    debit: AccountRef
    credit: AccountRef
    amount: Money
    code: str
    source_ref: str


def transfer_id_for(kind: str, source_ref: str) -> uuid.UUID:
    return uuid.uuid5(LEDGER_NAMESPACE, f"transfer\x1f{kind}\x1f{source_ref}")


def _check(transfer: Transfer) -> None:
    if transfer.amount.minor_units <= 0:
        raise LedgerInvariantError(f"transfer {transfer.transfer_id} moves a non-positive amount")
    currency = transfer.amount.currency
    if transfer.debit.currency != currency or transfer.credit.currency != currency:
        raise LedgerInvariantError(
            f"transfer {transfer.transfer_id} mixes currencies: an FX transfer pair is required"
        )
    if transfer.debit == transfer.credit:
        raise LedgerInvariantError(
            f"transfer {transfer.transfer_id} debits and credits one account"
        )


def _account_row(ref: AccountRef, now: datetime) -> dict[str, object]:
    return {
        "account_id": account_id_for(ref),
        "participant_id": ref.participant_id,
        "currency": ref.currency,
        "code": ref.code.value,
        "medium_token": ref.medium_token,
        "created_at": now,
    }


def post_transfers(session: Session, transfers: Sequence[Transfer], now: datetime) -> None:
    """Posts every transfer in the caller's transaction, creating the accounts
    they name on first use. Raises LedgerInvariantError before writing
    anything if one transfer is malformed."""
    for transfer in transfers:
        _check(transfer)
    refs = {ref for t in transfers for ref in (t.debit, t.credit)}
    insert_missing(session, LedgerAccountRow, [_account_row(ref, now) for ref in sorted(refs)])
    if transfers:
        session.execute(
            insert(LedgerTransferRow),
            [
                {
                    "transfer_id": t.transfer_id,
                    "debit_account_id": account_id_for(t.debit),
                    "credit_account_id": account_id_for(t.credit),
                    "amount": t.amount.minor_units,
                    "currency": t.amount.currency,
                    "code": t.code,
                    "source_ref": t.source_ref,
                    "created_at": now,
                }
                for t in transfers
            ],
        )


def trial_balance(session: Session) -> dict[Currency, tuple[int, int]]:
    """(total debits, total credits) per currency, summed over accounts.

    Computed from the accounts' side, not the transfers', so a transfer row
    whose accounts disagree with its currency shows up as an imbalance.
    """
    debit_account = aliased(LedgerAccountRow)
    credit_account = aliased(LedgerAccountRow)
    debits = session.execute(
        select(debit_account.currency, func.sum(LedgerTransferRow.amount))
        .join(debit_account, debit_account.account_id == LedgerTransferRow.debit_account_id)
        .group_by(debit_account.currency)
    )
    credits = session.execute(
        select(credit_account.currency, func.sum(LedgerTransferRow.amount))
        .join(credit_account, credit_account.account_id == LedgerTransferRow.credit_account_id)
        .group_by(credit_account.currency)
    )
    totals: dict[Currency, tuple[int, int]] = {}
    for currency, amount in debits:
        totals[currency] = (int(amount), 0)
    for currency, amount in credits:
        totals[currency] = (totals.get(currency, (0, 0))[0], int(amount))
    return totals
