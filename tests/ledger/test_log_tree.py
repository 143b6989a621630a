"""Proofs and tree heads from the Merkle log's stored subtree roots.

They must be exactly the hashes computed from every leaf (which the RFC
9162 vectors pin down), for every leaf and every tree size, whether the
roots are stored yet or not; and a restarted server must sign its next tree
head without reading the whole log again.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

import clearing.ledger._log
import clearing.ledger._tree
from clearing.ledger import LedgerLog, ledger_origin
from clearing.ledger._log import SignedCheckpoint, leaf_hashes
from clearing.ledger._tree import NODE_STRIDE
from clearing.storage.models import LedgerLogNodeRow
from farebridge.codecs.merkle import (
    consistency_proof,
    inclusion_proof,
    root_hash,
    verify_consistency,
    verify_inclusion,
)

from .conftest import Ledger

KEY = Ed25519PrivateKey.generate()
# Below and across each stored level: 16 and 256 leaves.
SIZES = (1, 5, 15, 16, 17, 40, 255, 256, 257, 300)


def _log(ledger: Ledger) -> LedgerLog:
    return LedgerLog(ledger.database, ledger_origin("clearing-house"), KEY)


def _grow(ledger: Ledger, log: LedgerLog, sizes: Sequence[int]) -> list[SignedCheckpoint]:
    """Transfers up to each size in turn, with a checkpoint at each."""
    ledger.account("rider")
    ledger.account("metro", code="fare_revenue")
    heads, made = [], 0
    for size in sizes:
        ledger.submit(*(ledger.transfer(f"t-{n}", "rider", "metro", 10) for n in range(made, size)))
        made = size
        ledger.advance(1)
        heads.append(log.checkpoint(ledger.now))
    return heads


def _leaves(ledger: Ledger, size: int) -> list[bytes]:
    with ledger.database.transaction() as session:
        return leaf_hashes(session, 0, size)


def _stored_levels(ledger: Ledger) -> dict[int, int]:
    with ledger.database.transaction() as session:
        rows = session.execute(
            select(LedgerLogNodeRow.level, func.count()).group_by(LedgerLogNodeRow.level)
        )
        return {int(level): int(count) for level, count in rows}


def _assert_proofs_match_every_leaf(
    ledger: Ledger, log: LedgerLog, heads: Sequence[SignedCheckpoint]
) -> None:
    leaves = _leaves(ledger, heads[-1].tree_size)
    for head in heads:
        size = head.tree_size
        assert head.root_hash == root_hash(leaves[:size])
        indexes = range(size) if size <= 40 else {0, 15, 16, 17, 128, size // 2, size - 1}
        for index in indexes:
            proof = log.inclusion(transfer_id=None, leaf_index=index, tree_size=size)
            assert list(proof.proof) == inclusion_proof(leaves[:size], index)
            verify_inclusion(proof.leaf_hash, index, size, proof.proof, head.root_hash)
    for old in heads:
        for new in heads:
            if old.tree_size <= new.tree_size:
                proof = log.consistency(old.tree_size, new.tree_size)
                expected = consistency_proof(leaves[: new.tree_size], old.tree_size)
                assert list(proof.proof) == expected
                verify_consistency(
                    old.tree_size, new.tree_size, old.root_hash, new.root_hash, proof.proof
                )


def test_proofs_from_stored_roots_are_the_proofs_from_every_leaf(ledger: Ledger) -> None:
    log = _log(ledger)
    heads = _grow(ledger, log, SIZES)
    assert _stored_levels(ledger) == {NODE_STRIDE: 300 // 16, 2 * NODE_STRIDE: 1}
    _assert_proofs_match_every_leaf(ledger, log, heads)


def test_every_stored_root_is_the_root_of_its_leaves(ledger: Ledger) -> None:
    _grow(ledger, _log(ledger), (300,))
    leaves = _leaves(ledger, 300)
    with ledger.database.transaction() as session:
        nodes = session.execute(select(LedgerLogNodeRow)).scalars().all()
        stored = {(n.level, n.node_index): bytes(n.node_hash) for n in nodes}
    assert stored == {
        (level, index): root_hash(leaves[index << level : (index + 1) << level])
        for level in (NODE_STRIDE, 2 * NODE_STRIDE)
        for index in range(300 >> level)
    }


def test_a_log_without_stored_roots_proves_from_its_leaves_then_stores_them(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A log from before the roots were stored: its proofs still hold, and
    its next checkpoint stores the roots for the whole log."""
    log = _log(ledger)
    with monkeypatch.context() as patched:
        patched.setattr(clearing.ledger._log, "build_nodes", lambda _session, _size: False)
        heads = _grow(ledger, log, (17, 40))
    assert _stored_levels(ledger) == {}
    _assert_proofs_match_every_leaf(ledger, log, heads)
    ledger.submit(ledger.transfer("t-late", "rider", "metro", 10))
    assert log.checkpoint(ledger.now).tree_size == 41
    assert _stored_levels(ledger) == {NODE_STRIDE: 2}


def test_roots_are_built_a_bounded_step_per_transaction(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A long log that predates the stored roots gets them over several
    transactions, each a bounded number of leaves, and ends with all."""
    with monkeypatch.context() as patched:
        patched.setattr(clearing.ledger._log, "build_nodes", lambda _session, _size: False)
        _grow(ledger, _log(ledger), (300,))
    monkeypatch.setattr(clearing.ledger._tree, "_BUILD_STEP", 32)
    steps = []
    real = clearing.ledger._tree.build_nodes

    def counted(session: object, size: int) -> bool:
        steps.append(size)
        return real(session, size)  # type: ignore[arg-type]

    monkeypatch.setattr(clearing.ledger._log, "build_nodes", counted)
    ledger.submit(ledger.transfer("one-more", "rider", "metro", 10))
    _log(ledger).checkpoint(ledger.now)
    assert len(steps) == 9  # the 288 leaves that complete a root, 32 a step
    assert _stored_levels(ledger) == {NODE_STRIDE: 301 // 16, 2 * NODE_STRIDE: 1}


def test_a_restarted_log_signs_without_reading_every_leaf(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    _grow(ledger, _log(ledger), (300,))
    read: list[tuple[int, int]] = []
    real = clearing.ledger._log.leaf_hashes

    def recorded(session: object, start: int, end: int) -> list[bytes]:
        read.append((start, end))
        return real(session, start, end)  # type: ignore[arg-type]

    monkeypatch.setattr(clearing.ledger._log, "leaf_hashes", recorded)
    restarted = _log(ledger)  # a new process: its frontier starts empty
    ledger.submit(*(ledger.transfer(f"after-{n}", "rider", "metro", 10) for n in range(3)))
    head = restarted.checkpoint(ledger.now)
    assert head.tree_size == 303
    assert head.root_hash == root_hash(_leaves(ledger, 303))
    assert sum(end - start for start, end in read) <= 3  # the new leaves only


def test_stored_roots_are_append_only(ledger: Ledger) -> None:
    _grow(ledger, _log(ledger), (16,))
    for statement in ("UPDATE ledger_log_nodes SET node_index = 7", "DELETE FROM ledger_log_nodes"):
        with (
            pytest.raises(DBAPIError, match="append-only"),
            ledger.database.transaction() as session,
        ):
            session.execute(text(statement))
    assert _stored_levels(ledger) == {NODE_STRIDE: 1}
