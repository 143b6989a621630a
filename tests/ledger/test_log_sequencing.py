"""The Merkle log's leaf order: every committed transfer once, in
(created_at, transfer id) order per sequencing, however many chunks it
takes and however many transfers share a timestamp."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import insert, select

import clearing.ledger._log
from clearing.ledger import LedgerLog, advance_horizon, hold_horizon, ledger_origin
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


def _log_in_chunks_of_three(ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> LedgerLog:
    """A rider and a metro account, and a log that grows three leaves a chunk."""
    monkeypatch.setattr(clearing.ledger._log, "_SEQUENCE_CHUNK", 3)
    ledger.account("rider")
    ledger.account("metro", code="fare_revenue")
    return LedgerLog(ledger.database, ledger_origin("clearing-house"), Ed25519PrivateKey.generate())


def test_small_chunks_log_each_transfer_once_in_leaf_order(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = _log_in_chunks_of_three(ledger, monkeypatch)
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


def test_a_checkpoint_cut_short_leaves_whole_chunks_the_next_one_completes(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = _log_in_chunks_of_three(ledger, monkeypatch)
    ledger.submit(*(ledger.transfer(f"t-{n}", "rider", "metro", 10) for n in range(8)))
    hashed = 0
    real_hash = clearing.ledger._log.leaf_hash

    def failing_hash(data: bytes) -> bytes:
        nonlocal hashed
        hashed += 1
        if hashed == 5:  # inside the second chunk: the process dies here
            raise RuntimeError("killed")
        return real_hash(data)

    monkeypatch.setattr(clearing.ledger._log, "leaf_hash", failing_hash)
    with pytest.raises(RuntimeError):
        log.checkpoint(ledger.now)
    assert _leaf_order(ledger) == _created_order(ledger)[:3]
    monkeypatch.setattr(clearing.ledger._log, "leaf_hash", real_hash)
    assert log.checkpoint(ledger.now).tree_size == 8
    assert _leaf_order(ledger) == _created_order(ledger)


def _plant_unlogged_transfer(ledger: Ledger, name: str, created_at: object) -> None:
    """A transfer row stamped ``created_at`` whatever the horizon says: what
    no posting can create once the horizon has passed that instant."""
    with ledger.database.transaction() as session:
        session.execute(
            insert(LedgerTransferRow).values(
                transfer_id=ledger.id(name), debit_account_id=ledger.id("rider"),
                credit_account_id=ledger.id("metro"), amount=10, currency="SGD", code="fare",
                user_data="", flags=0, pending_id=None, timeout=0, expires_at=None,
                created_at=created_at,
            )
        )  # fmt: skip


def test_without_a_horizon_a_checkpoint_finds_a_late_transfer_of_any_time(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = _log_in_chunks_of_three(ledger, monkeypatch)
    ledger.submit(*(ledger.transfer(f"t-{n}", "rider", "metro", 10) for n in range(5)))
    early = ledger.now
    ledger.advance(60)
    assert log.checkpoint(ledger.now).tree_size == 5
    _plant_unlogged_transfer(ledger, "late", early - timedelta(seconds=1))
    assert log.checkpoint(ledger.now).tree_size == 6
    assert _leaf_order(ledger)[-1] == ledger.id("late")


def test_after_a_close_checkpoints_look_only_past_the_horizon_they_began_from(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once the horizon stands at an instant (a cycle close moved it there),
    every transfer up to it has committed, so a checkpoint that logged them
    all records it and the next one does not look there again: the planted
    row, which no posting could have created, is not read."""
    log = _log_in_chunks_of_three(ledger, monkeypatch)
    ledger.submit(*(ledger.transfer(f"t-{n}", "rider", "metro", 10) for n in range(5)))
    ledger.advance(60)
    with ledger.database.transaction() as session:  # as a close does
        hold_horizon(session)
        advance_horizon(session, ledger.now)
    horizon = ledger.now
    ledger.advance(60)
    assert log.checkpoint(ledger.now).tree_size == 5
    _plant_unlogged_transfer(ledger, "behind-the-horizon", horizon - timedelta(seconds=1))
    ledger.submit(*(ledger.transfer(f"after-{n}", "rider", "metro", 10) for n in range(4)))
    assert log.checkpoint(ledger.now).tree_size == 9
    assert ledger.id("behind-the-horizon") not in _leaf_order(ledger)
