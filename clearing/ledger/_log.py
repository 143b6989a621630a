"""The ledger's Merkle log: sequencing committed transfers into leaves, and
signing tree heads (C2SP checkpoints) over them.

The sequencer is the log's only writer and never runs on the tap path: it
runs when a checkpoint is asked for (at every cycle close and on request),
claims every committed transfer that has no leaf yet, in (timestamp, id)
order, and appends their leaf hashes, then the roots of the perfect
subtrees they complete at the stored levels (``_tree.py``). The tree head
is computed from a frontier kept in memory, so signing costs time
proportional to what was added since the last checkpoint; a new process
takes its frontier from the stored roots. Proofs read O(log n) stored
hashes.

A transfer may commit after a checkpoint with a timestamp earlier than the
last one logged, so the sequencer looks for transfers without a leaf from
the last instant through which it knows the log is whole, not from the
last leaf. That instant is the ledger's horizon as it stood when a
checkpoint began sequencing: the close that set it waited for every posting
that could be stamped at or before it, and no later posting is, so once
that checkpoint has sequenced everything, every transfer up to it has a
leaf. Each tree head records it (``logged_through``), and the next
checkpoint starts after it: its cost follows what was created since the
last cycle close, not the whole history. A log with no horizon yet (no
cycle closed) is probed from its start.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, or_, select, text
from sqlalchemy.orm import Session

from clearing.errors import NotFoundError
from clearing.ledger._horizon import current_horizon
from clearing.ledger._tree import StoredTree, build_nodes, stored_peaks
from clearing.storage import Database
from clearing.storage._driver import insert_rows
from clearing.storage.models import LedgerCheckpointRow, LedgerLogRow, LedgerTransferRow
from farebridge.codecs import checkpoint as notes
from farebridge.codecs.merkle import (
    MerkleFrontier,
    consistency_path,
    inclusion_path,
    leaf_hash,
)
from farebridge.codecs.transfers import LoggedTransfer, transfer_leaf_bytes

_SEQUENCE_CHUNK = 20_000
_ADVISORY_LOCK = 0x66617265  # "fare": serializes sequencers on PostgreSQL


def ledger_origin(clearing_house_id: str) -> str:
    """The log's name in its checkpoints and the key name of its signatures."""
    return f"farebridge/{clearing_house_id}/ledger"


# In LoggedTransfer's field order.
_LEAF_COLUMNS = (
    LedgerTransferRow.transfer_id,
    LedgerTransferRow.debit_account_id,
    LedgerTransferRow.credit_account_id,
    LedgerTransferRow.amount,
    LedgerTransferRow.currency,
    LedgerTransferRow.code,
    LedgerTransferRow.user_data,
    LedgerTransferRow.flags,
    LedgerTransferRow.pending_id,
    LedgerTransferRow.timeout,
    LedgerTransferRow.created_at,
)
_LEAF_ROW = ("leaf_index", "transfer_id", "leaf_hash")


class _Position(NamedTuple):
    """Where a chunk of the log ended, in leaf order."""

    created_at: datetime
    transfer_id: uuid.UUID


def logged_transfer(row: LedgerTransferRow) -> LoggedTransfer:
    return LoggedTransfer(*(getattr(row, column.key) for column in _LEAF_COLUMNS))


@dataclass(frozen=True)
class SignedCheckpoint:
    """A tree head as stored and published."""

    tree_size: int
    root_hash: bytes
    signed_note: str
    created_at: datetime


@dataclass(frozen=True)
class InclusionProof:
    leaf_index: int
    tree_size: int
    leaf_hash: bytes
    root_hash: bytes
    proof: tuple[bytes, ...]
    transfer: LoggedTransfer


@dataclass(frozen=True)
class ConsistencyProof:
    old_size: int
    new_size: int
    old_root: bytes
    new_root: bytes
    proof: tuple[bytes, ...]


class LedgerLog:
    """One clearing house's log: its origin, its signing key, its frontier."""

    def __init__(self, database: Database, origin: str, signing_key: Ed25519PrivateKey) -> None:
        self._database = database
        self.origin = origin
        self._key = signing_key
        self.verifier_key = notes.verifier_key(origin, signing_key.public_key())
        self._frontier = MerkleFrontier()
        self._lock = threading.Lock()

    def checkpoint(self, now: datetime) -> SignedCheckpoint:
        """Logs every committed transfer, then signs and stores a tree head
        (or answers the stored one if nothing was added since).

        The log grows a chunk per transaction. On SQLite, whose writers take
        turns, postings then wait for one chunk at most (well under a
        second), not for a whole day's leaves; a checkpoint cut short leaves
        whole chunks, and the next one goes on from there."""
        with self._lock:
            with self._database.transaction() as session:
                self._serialize(session)
                since = _logged_through(session)
                horizon = current_horizon(session)
            after: _Position | None = None
            while True:
                with self._database.transaction() as session:
                    self._serialize(session)
                    after = self._sequence_chunk(session, after, since)
                if after is None:
                    break
            more = True
            while more:  # a transaction per million leaves, as for the leaves
                with self._database.transaction() as session:
                    self._serialize(session)
                    more = build_nodes(session, self._size(session))
            return self._sign(now, horizon)

    def _sign(self, now: datetime, logged_through: datetime | None) -> SignedCheckpoint:
        with self._database.transaction() as session:
            self._serialize(session)
            size = self._size(session)
            self._advance_frontier(session, size)
            stored = session.get(LedgerCheckpointRow, size)
            if stored is not None:
                return _signed(stored)
            body = notes.format_checkpoint(
                notes.Checkpoint(self.origin, size, self._frontier.root())
            )
            note = notes.sign_note(body, self.origin, self._key)
            row = LedgerCheckpointRow(
                tree_size=size,
                root_hash=self._frontier.root(),
                signed_note=note,
                created_at=now,
                logged_through=logged_through,
            )
            session.add(row)
            return _signed(row)

    def _serialize(self, session: Session) -> None:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK})

    @staticmethod
    def _size(session: Session) -> int:
        last = session.scalar(select(func.max(LedgerLogRow.leaf_index)))
        return 0 if last is None else int(last) + 1

    def _sequence_chunk(
        self, session: Session, after: _Position | None, since: datetime | None
    ) -> _Position | None:
        """Appends the next chunk of unlogged transfers in (created_at, id)
        order and answers where it ended (None: nothing was left). The first
        chunk starts after ``since``, through which every transfer is logged
        (None: from the start); each next one resumes after the last (keyset
        paging over the created_at index): restarting would read every
        transfer logged so far again for every chunk, and a million transfers
        took minutes. A transfer that commits meanwhile with an earlier
        timestamp is found by the next checkpoint, which starts from
        ``since`` again."""
        logged = select(LedgerLogRow.transfer_id).where(
            LedgerLogRow.transfer_id == LedgerTransferRow.transfer_id
        )
        query = (
            select(*_LEAF_COLUMNS)
            .where(~logged.exists())
            .order_by(LedgerTransferRow.created_at, LedgerTransferRow.transfer_id)
            .limit(_SEQUENCE_CHUNK)
        )
        created = LedgerTransferRow.created_at
        if after is not None:
            query = query.where(
                created >= after.created_at,
                or_(created > after.created_at, LedgerTransferRow.transfer_id > after.transfer_id),
            )
        elif since is not None:
            query = query.where(created > since)
        transfers = [LoggedTransfer(*row) for row in session.execute(query)]
        if not transfers:
            return None
        size = self._size(session)
        sqlite = session.get_bind().dialect.name == "sqlite"
        leaves = [
            (
                size + offset,
                t.transfer_id.hex if sqlite else t.transfer_id,
                leaf_hash(transfer_leaf_bytes(t)),
            )
            for offset, t in enumerate(transfers)
        ]
        insert_rows(session.connection(), "ledger_log", _LEAF_ROW, leaves)
        return _Position(transfers[-1].timestamp, transfers[-1].transfer_id)

    def _advance_frontier(self, session: Session, size: int) -> None:
        if self._frontier.size > size:  # another process's database, or a restore
            self._frontier = MerkleFrontier()
        if self._frontier.size == 0 and size:  # a new process: from the stored roots
            self._frontier = MerkleFrontier(size, tuple(stored_peaks(session, size)))
        if self._frontier.size < size:
            hashes = leaf_hashes(session, self._frontier.size, size)
            self._frontier = self._frontier.extend(hashes)

    def checkpoints(self) -> list[SignedCheckpoint]:
        with self._database.transaction() as session:
            rows = session.scalars(select(LedgerCheckpointRow).order_by("tree_size"))
            return [_signed(row) for row in rows]

    def stored_checkpoint(self, tree_size: int | None) -> SignedCheckpoint:
        """A stored tree head by size, or the latest; NotFoundError if none."""
        with self._database.transaction() as session:
            return _stored_checkpoint(session, tree_size)

    def inclusion(
        self, *, transfer_id: object | None, leaf_index: int | None, tree_size: int | None
    ) -> InclusionProof:
        with self._database.transaction() as session:
            head = _stored_checkpoint(session, tree_size)
            index = _leaf_index(session, transfer_id, leaf_index)
            if index >= head.tree_size:
                raise NotFoundError(
                    f"leaf {index} is not in the tree of size {head.tree_size}; "
                    "ask for a fresh checkpoint"
                )
            tree = StoredTree(session)
            row = session.scalar(
                select(LedgerTransferRow)
                .join(LedgerLogRow, LedgerLogRow.transfer_id == LedgerTransferRow.transfer_id)
                .where(LedgerLogRow.leaf_index == index)
            )
            assert row is not None
            path = inclusion_path(index, head.tree_size, tree.subtree_root)
            return InclusionProof(
                index, head.tree_size, tree.leaf(index), head.root_hash, tuple(path),
                logged_transfer(row),
            )  # fmt: skip

    def consistency(self, old_size: int, new_size: int | None) -> ConsistencyProof:
        with self._database.transaction() as session:
            new = _stored_checkpoint(session, new_size)
            old = _stored_checkpoint(session, old_size) if old_size else None
            if old_size > new.tree_size:
                raise NotFoundError(f"tree size {old_size} is larger than {new.tree_size}")
            old_root = old.root_hash if old else MerkleFrontier().root()
            proof = consistency_path(old_size, new.tree_size, StoredTree(session).subtree_root)
            return ConsistencyProof(old_size, new.tree_size, old_root, new.root_hash, tuple(proof))


def _logged_through(session: Session) -> datetime | None:
    """The latest instant through which a signed tree head found every
    transfer logged."""
    return session.scalar(select(func.max(LedgerCheckpointRow.logged_through)))


def leaf_hashes(session: Session, start: int, end: int) -> list[bytes]:
    """Stored leaf hashes of leaves [start, end), in order."""
    query = (
        select(LedgerLogRow.leaf_hash)
        .where(LedgerLogRow.leaf_index >= start, LedgerLogRow.leaf_index < end)
        .order_by(LedgerLogRow.leaf_index)
    )
    return [bytes(h) for h in session.scalars(query)]


def logged_transfers(
    session: Session, start: int, end: int
) -> Sequence[tuple[int, LoggedTransfer]]:
    """Transfers of leaves [start, end) with their leaf index, in log order."""
    query = (
        select(LedgerLogRow.leaf_index, LedgerTransferRow)
        .join(LedgerTransferRow, LedgerLogRow.transfer_id == LedgerTransferRow.transfer_id)
        .where(LedgerLogRow.leaf_index >= start, LedgerLogRow.leaf_index < end)
        .order_by(LedgerLogRow.leaf_index)
    )
    return [(int(index), logged_transfer(row)) for index, row in session.execute(query)]


def _stored_checkpoint(session: Session, tree_size: int | None) -> SignedCheckpoint:
    if tree_size:
        row = session.get(LedgerCheckpointRow, tree_size)
    else:
        row = session.scalars(
            select(LedgerCheckpointRow).order_by(LedgerCheckpointRow.tree_size.desc()).limit(1)
        ).first()
    if row is None:
        raise NotFoundError(
            f"no checkpoint of tree size {tree_size}" if tree_size else "no checkpoint yet"
        )
    return _signed(row)


def _leaf_index(session: Session, transfer_id: object | None, leaf_index: int | None) -> int:
    if transfer_id is None:
        if leaf_index is None:
            raise NotFoundError("name a transfer id or a leaf index")
        return leaf_index
    found = session.scalar(
        select(LedgerLogRow.leaf_index).where(LedgerLogRow.transfer_id == transfer_id)
    )
    if found is None:
        raise NotFoundError(f"transfer {transfer_id} is not logged yet; ask for a fresh checkpoint")
    return int(found)


def _signed(row: LedgerCheckpointRow) -> SignedCheckpoint:
    return SignedCheckpoint(row.tree_size, bytes(row.root_hash), row.signed_note, row.created_at)
