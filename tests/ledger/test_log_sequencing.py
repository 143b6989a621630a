"""The Merkle log's leaf order: every committed transfer once, in
(created_at, transfer id) order per sequencing, however many chunks it
takes and however many transfers share a timestamp."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

import clearing.ledger._log
from clearing.ledger import LedgerLog, ledger_origin
from clearing.storage.models import LedgerLogRow, LedgerTransferRow

from .conftest import Ledger


def _leaf_order(ledger: Ledger) -> list[object]:
    with ledger.database.transaction() as session:
        return list(
            session.scalars(select(LedgerLogRow.transfer_id).order_by(LedgerLogRow.leaf_index))
        )


def _created_order(ledger: Ledger) -> list[object]:
    with ledger.database.transaction() as session:
        return list(
            session.scalars(
                select(LedgerTransferRow.transfer_id).order_by(
                    LedgerTransferRow.created_at, LedgerTransferRow.transfer_id
                )
            )
        )


def test_small_chunks_log_each_transfer_once_in_leaf_order(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(clearing.ledger._log, "_SEQUENCE_CHUNK", 3)
    ledger.account("rider")
    ledger.account("metro", code="fare_revenue")
    log = LedgerLog(ledger.database, ledger_origin("clearing-house"), Ed25519PrivateKey.generate())
    for batch in range(3):  # each batch shares one timestamp: ties broken by id
        ledger.submit(*(ledger.transfer(f"t-{batch}-{n}", "rider", "metro", 10) for n in range(5)))
        ledger.advance(1)
    first = log.checkpoint(ledger.now)
    assert first.tree_size == 15
    assert _leaf_order(ledger) == _created_order(ledger)
    ledger.submit(*(ledger.transfer(f"late-{n}", "rider", "metro", 10) for n in range(4)))
    second = log.checkpoint(ledger.now)
    assert second.tree_size == 19
    leaves = _leaf_order(ledger)
    assert len(set(leaves)) == 19
    assert leaves[:15] == _created_order(ledger)[:15]
