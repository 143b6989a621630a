"""Posting on behalf of the engine itself (fares, settlement), where any
result other than ``ok`` or ``exists`` is a bug, not a user error."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy.orm import Session

from clearing.ledger._accounts import AccountRef, account_id_for
from clearing.ledger._contract import TransferFlags, TransferRequest, TransferResult
from clearing.ledger._store import create_transfers, ensure_accounts
from clearing.values import Money


class LedgerInvariantError(AssertionError):
    """The engine asked the ledger for a transfer it refused. This is a bug in
    the caller, never a user error; the surrounding transaction rolls back."""


class Posting(NamedTuple):
    """A single-phase transfer between accounts named by meaning.

    transfer_id: derive it from the business event (``transfer_id_for``) so a
        retry answers ``exists`` instead of moving money twice.
    """

    transfer_id: uuid.UUID
    debit: AccountRef
    credit: AccountRef
    amount: Money
    code: str
    user_data: str

    def request(self) -> TransferRequest:
        transfer_id, debit, credit, (amount, currency), code, user_data = self
        return TransferRequest(  # by position: every fare makes one
            transfer_id, account_id_for(debit), account_id_for(credit), amount, currency, code,
            user_data,
        )  # fmt: skip


def _linked(chain: Sequence[Posting]) -> list[TransferRequest]:
    """Every member but the last carries the linked flag: all or nothing."""
    last = len(chain) - 1
    return [
        p.request()._replace(flags=TransferFlags.LINKED) if n < last else p.request()
        for n, p in enumerate(chain)
    ]


def post_or_raise(
    session: Session, postings: Sequence[Posting], now: datetime
) -> list[TransferResult]:
    """Creates the named accounts if missing, then the transfers. Raises
    LedgerInvariantError unless every one answers ok or exists."""
    return post_chains(session, [[posting] for posting in postings], now)


def post_chains(
    session: Session, chains: Sequence[Sequence[Posting]], now: datetime
) -> list[TransferResult]:
    """Posts each chain as one linked (all-or-nothing) run of transfers, in
    one batch; a chain of one is a plain transfer. Creates the named accounts
    if missing; raises LedgerInvariantError unless every transfer answers ok
    or exists."""
    postings = [posting for chain in chains for posting in chain]
    if not postings:
        return []
    ensure_accounts(session, (ref for p in postings for ref in (p.debit, p.credit)), now)
    requests: list[TransferRequest] = []
    for chain in chains:
        if len(chain) == 1:  # most chains are one fare: nothing to link
            requests.append(chain[0].request())
        elif chain:
            requests.extend(_linked(chain))
    results = create_transfers(session, requests, now)
    refused = [
        (posting.transfer_id, result)
        for posting, result in zip(postings, results, strict=True)
        if result not in (TransferResult.OK, TransferResult.EXISTS)
    ]
    if refused:
        raise LedgerInvariantError(f"the ledger refused engine transfers: {refused[:5]}")
    return results
