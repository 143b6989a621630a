"""Posting linked chains on behalf of the engine: cross-currency fares and
settlement instructions must succeed or fail as a whole."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from clearing.ledger import (
    LedgerInvariantError,
    Posting,
    TransferFlags,
    TransferRequest,
    TransferResult,
    create_transfers,
    ensure_accounts,
)


def _linked(chain: Sequence[Posting]) -> list[TransferRequest]:
    requests = [posting.request() for posting in chain]
    return [
        dataclasses.replace(request, flags=TransferFlags.LINKED) if n < len(chain) - 1 else request
        for n, request in enumerate(requests)
    ]


def post_chains(session: Session, chains: Sequence[Sequence[Posting]], now: datetime) -> None:
    """Posts each chain as one linked (all-or-nothing) run of transfers; a
    chain of one is a plain transfer. Raises LedgerInvariantError unless every
    transfer answers ok or exists, as ``post_or_raise`` does."""
    chains = [chain for chain in chains if chain]
    if not chains:
        return
    postings = [posting for chain in chains for posting in chain]
    ensure_accounts(session, (ref for p in postings for ref in (p.debit, p.credit)), now)
    requests = [request for chain in chains for request in _linked(chain)]
    results = create_transfers(session, requests, now)
    refused = [
        (posting.transfer_id, result)
        for posting, result in zip(postings, results, strict=True)
        if result not in (TransferResult.OK, TransferResult.EXISTS)
    ]
    if refused:
        raise LedgerInvariantError(f"the ledger refused engine transfers: {refused[:5]}")
