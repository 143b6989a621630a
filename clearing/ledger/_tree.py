"""The Merkle log's stored subtree roots, so that proofs and tree heads read
O(log n) hashes instead of every leaf.

An inclusion or consistency proof is made of subtree roots, and every RFC
9162 subtree is a run of perfect subtrees (2^level leaves starting at a
multiple of 2^level) of falling sizes. The log keeps the roots of perfect
subtrees at every ``NODE_STRIDE``-th level in ``ledger_log_nodes`` (16,
256, 4,096... leaves each; about one row per 15 leaves), besides the leaf
hashes in ``ledger_log``. Any perfect subtree's root is then at most
2^(NODE_STRIDE - 1) stored hashes hashed together, and a proof over a
billion leaves reads a few hundred hashes.

The stored roots are derived data: they are built after each checkpoint's
sequencing, a million leaves per transaction, and never change once
complete. A subtree they do not cover yet (a log from before this table, a
checkpoint that stopped early) is computed from its leaves, as every
subtree was before. A stored root that was altered yields proofs that
do not verify against the signed tree heads, so auditors see it at once.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from clearing.storage._driver import insert_rows
from clearing.storage.models import LedgerLogNodeRow, LedgerLogRow
from farebridge.codecs.merkle import combine_subtrees, perfect_subtrees, root_hash

NODE_STRIDE = 4
"""Stored levels are the multiples of this (level 0, the leaves, is
``ledger_log`` itself)."""
_BUILD_STEP = 1 << 20
"""Leaves whose subtree roots one transaction builds: a million leaf hashes
(32 MiB) read once, about a second's work, so that the first checkpoint of
a long log that predates the stored roots does not hold SQLite's writers
off for minutes."""
_NODE_COLUMNS = ("level", "node_index", "node_hash")


class StoredTree:
    """Subtree roots of the log, read from what is stored in ``session``."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def subtree_root(self, low: int, high: int) -> bytes:
        """The root of leaves [low, high), an RFC 9162 subtree or a prefix
        of the log: what ``inclusion_path`` and ``consistency_path`` ask."""
        return combine_subtrees(
            [self.perfect(level, i) for level, i in perfect_subtrees(low, high)]
        )

    def perfect(self, level: int, index: int) -> bytes:
        """The root of the 2^level leaves from ``index << level``."""
        if level == 0:
            return self.leaf(index)
        if level % NODE_STRIDE == 0:
            stored = self.hashes(level, index, 1)
            if stored is not None:
                return stored[0]
        below = (level - 1) // NODE_STRIDE * NODE_STRIDE
        span = level - below
        children = self.hashes(below, index << span, 1 << span)
        if children is None:  # not built yet: from the leaves themselves
            children = self.hashes(0, index << level, 1 << level)
            assert children is not None, f"leaves {index << level}.. are not all logged"
        return root_hash(children)

    def leaf(self, index: int) -> bytes:
        found = self.hashes(0, index, 1)
        assert found is not None, f"leaf {index} is not logged"
        return found[0]

    def hashes(self, level: int, first: int, count: int) -> list[bytes] | None:
        """The ``count`` stored hashes of ``level`` from index ``first``, in
        order, or None unless all of them are stored."""
        if level == 0:
            key, value = LedgerLogRow.leaf_index, LedgerLogRow.leaf_hash
            query = select(value).where(key >= first, key < first + count)
        else:
            key, value = LedgerLogNodeRow.node_index, LedgerLogNodeRow.node_hash
            query = select(value).where(
                LedgerLogNodeRow.level == level, key >= first, key < first + count
            )
        found = [bytes(h) for h in self._session.scalars(query.order_by(key))]
        return found if len(found) == count else None


def build_nodes(session: Session, size: int) -> bool:
    """Stores the roots of the perfect subtrees of the stored levels that the
    first ``size`` leaves complete and that are not stored yet, for at most
    ``_BUILD_STEP`` more leaves, lowest level first, so that each level is
    built from the one below. Answers whether some are still left."""
    through = min(size, (_built(session, NODE_STRIDE) << NODE_STRIDE) + _BUILD_STEP)
    level = NODE_STRIDE
    while through >> level:
        _build_level(session, level, through >> level)
        level += NODE_STRIDE
    return (through >> NODE_STRIDE) < (size >> NODE_STRIDE)


def _built(session: Session, level: int) -> int:
    """How many roots of ``level`` are stored: always a prefix of them."""
    built = session.scalar(
        select(func.coalesce(func.max(LedgerLogNodeRow.node_index) + 1, 0)).where(
            LedgerLogNodeRow.level == level
        )
    )
    return int(built or 0)


def _build_level(session: Session, level: int, complete: int) -> None:
    fan_out = 1 << NODE_STRIDE
    step = max(_BUILD_STEP >> level, 1)
    tree = StoredTree(session)
    for first in range(_built(session, level), complete, step):
        count = min(step, complete - first)
        children = tree.hashes(level - NODE_STRIDE, first * fan_out, count * fan_out)
        assert children is not None, f"level {level - NODE_STRIDE} is not built below {level}"
        rows = [
            (level, first + n, root_hash(children[n * fan_out : (n + 1) * fan_out]))
            for n in range(count)
        ]
        insert_rows(session.connection(), "ledger_log_nodes", _NODE_COLUMNS, rows)


def stored_peaks(session: Session, size: int) -> Sequence[bytes]:
    """The roots of the perfect subtrees that make up the first ``size``
    leaves, largest first: a ``MerkleFrontier`` of the stored log."""
    tree = StoredTree(session)
    return [tree.perfect(level, index) for level, index in perfect_subtrees(0, size)]
