"""The reader's offline queue: every tap, durable on local disk, with its fate.

A tap is written before ``Reader.tap`` returns (WAL with ``synchronous=FULL``,
so the commit is on disk), and its row is never deleted: it moves from
``pending`` to ``accepted``, ``duplicate`` or ``rejected`` once the clearing
house answers for it. ``device_sequence`` is SQLite's AUTOINCREMENT rowid,
which is strictly increasing, starts at 1 and is never reused, even across
restarts, which is exactly what the protocol asks of it.

One connection is shared by all threads and guarded by a lock: every
operation is a short transaction, and the network is never touched under it.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, TypeAlias, cast

from farebridge.v1 import common_pb2, reader_service_pb2, tap_pb2
from readers._errors import InvalidTapError, ReaderError

TapState = Literal["pending", "accepted", "duplicate", "rejected"]
TapDirection: TypeAlias = common_pb2.TapDirection.ValueType
TapRejectReason: TypeAlias = reader_service_pb2.TapRejectReason.ValueType

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS taps (
    device_sequence INTEGER PRIMARY KEY AUTOINCREMENT,
    tap_id TEXT NOT NULL UNIQUE,
    tapped_at TEXT NOT NULL,
    medium_token TEXT NOT NULL,
    direction INTEGER NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'accepted', 'duplicate', 'rejected')),
    reject_reason INTEGER,
    detail TEXT NOT NULL DEFAULT '',
    card_debit BLOB,
    ride_code TEXT
);
CREATE INDEX IF NOT EXISTS taps_pending ON taps (device_sequence) WHERE state = 'pending';
"""

# SQLite integers are signed 64-bit; no sequence number gets near this.
_NO_LIMIT = 2**63 - 1
_COLUMNS = (
    "tap_id, device_sequence, tapped_at, medium_token, direction, state, reject_reason, detail,"
    " card_debit, ride_code"
)
# Columns added after the first release; older queue files gain them on open.
_LATER_COLUMNS = (("card_debit", "BLOB"), ("ride_code", "TEXT"))


@dataclass(frozen=True)
class StoredTap:
    """One tap as the reader keeps it.

    Attributes:
        tap_id: the idempotency key sent to the clearing house.
        device_sequence: this reader's sequence number, 1, 2, 3... with no gaps.
        tapped_at: when the medium was presented (UTC).
        medium_token: the token standing for the card, wallet or ride code.
        direction: ``TAP_DIRECTION_ON`` or ``TAP_DIRECTION_OFF``.
        state: ``pending`` until the clearing house answers; then
            ``accepted`` or ``duplicate`` (both mean stored centrally) or
            ``rejected`` (final; never resent).
        reject_reason: the ``TapRejectReason`` when rejected, else ``None``.
        detail: the server's explanation of a rejection, else "".
        card_debit: a stored-value card's MAC'd debit record, if the medium made one.
        ride_code: the QR ride code text the gate admitted, if any.
    """

    tap_id: str
    device_sequence: int
    tapped_at: datetime
    medium_token: str
    direction: TapDirection
    state: TapState
    reject_reason: TapRejectReason | None
    detail: str
    card_debit: bytes | None = None
    ride_code: str | None = None

    def wire(self) -> tap_pb2.Tap:
        """The tap as it travels in a signed batch."""
        wire = tap_pb2.Tap(
            tap_id=self.tap_id,
            device_sequence=self.device_sequence,
            medium_token=self.medium_token,
            direction=self.direction,
        )
        wire.tapped_at.FromDatetime(self.tapped_at)
        if self.card_debit is not None:
            wire.card_debit = self.card_debit
        elif self.ride_code is not None:
            wire.ride_code = self.ride_code
        return wire


@dataclass(frozen=True)
class TapOutcome:
    """The clearing house's answer for one tap, as the queue records it."""

    tap_id: str
    state: TapState
    reject_reason: TapRejectReason | None = None
    detail: str = ""


def _stored_tap(row: sqlite3.Row) -> StoredTap:
    reason = row["reject_reason"]
    return StoredTap(
        tap_id=row["tap_id"],
        device_sequence=row["device_sequence"],
        tapped_at=datetime.fromisoformat(row["tapped_at"]),
        medium_token=row["medium_token"],
        direction=TapDirection(row["direction"]),
        state=cast(TapState, row["state"]),
        reject_reason=None if reason is None else TapRejectReason(reason),
        detail=row["detail"],
        card_debit=None if row["card_debit"] is None else bytes(row["card_debit"]),
        ride_code=row["ride_code"],
    )


def _utc_text(moment: datetime) -> str:
    """A fixed textual form, so the same instant always compares equal."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


class TapQueue:
    """The SQLite file ``queue.sqlite`` in a reader's state directory."""

    def __init__(self, path: Path, device_id: str) -> None:
        # check_same_thread=False: the lock below, not the thread, serializes use.
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._lock = threading.Lock()
        try:
            self._prepare(device_id)
        except BaseException:
            self._db.close()
            raise

    def _prepare(self, device_id: str) -> None:
        self._db.execute("PRAGMA busy_timeout = 10000")
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = FULL")
        self._db.executescript(_SCHEMA)
        present = {row["name"] for row in self._db.execute("PRAGMA table_info(taps)")}
        for name, kind in _LATER_COLUMNS:
            if name not in present:
                self._db.execute(f"ALTER TABLE taps ADD COLUMN {name} {kind}")
        self._claim(device_id)

    def _claim(self, device_id: str) -> None:
        """Binds the file to one device: its sequence numbers mean nothing for another."""
        with self._transaction() as db:
            db.execute("INSERT OR IGNORE INTO meta VALUES ('device_id', ?)", (device_id,))
            (owner,) = db.execute("SELECT value FROM meta WHERE key = 'device_id'").fetchone()
        if owner != device_id:
            raise ReaderError(
                f"this state directory belongs to device {owner!r}, not {device_id!r}"
            )

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE takes the write lock up front, so another process
        sharing the file cannot interleave between our read and our write."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def add(
        self,
        tap_id: str,
        tapped_at: datetime,
        medium_token: str,
        direction: int,
        *,
        card_debit: bytes | None = None,
        ride_code: str | None = None,
    ) -> str:
        """Stores a pending tap; repeating an identical tap is a no-op."""
        row = (tap_id, _utc_text(tapped_at), medium_token, direction, card_debit, ride_code)
        with self._transaction() as db:
            existing = db.execute(
                "SELECT tap_id, tapped_at, medium_token, direction, card_debit, ride_code"
                " FROM taps WHERE tap_id = ?",
                (tap_id,),
            ).fetchone()
            if existing is None:
                db.execute(
                    "INSERT INTO taps"
                    " (tap_id, tapped_at, medium_token, direction, card_debit, ride_code)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    row,
                )
            elif tuple(existing) != row:
                raise InvalidTapError(f"tap_id {tap_id!r} was already used for a different tap")
        return tap_id

    def pending_count(self, up_to: int | None = None) -> int:
        """Pending taps, all of them or only those up to a sequence number."""
        with self._lock:
            (count,) = self._db.execute(
                "SELECT count(*) FROM taps WHERE state = 'pending' AND device_sequence <= ?",
                (_NO_LIMIT if up_to is None else up_to,),
            ).fetchone()
        return int(count)

    def last_sequence(self) -> int:
        """The highest sequence number handed out so far (0 before the first tap)."""
        with self._lock:
            (last,) = self._db.execute("SELECT max(device_sequence) FROM taps").fetchone()
        return 0 if last is None else int(last)

    def all_taps(self) -> list[StoredTap]:
        with self._lock:
            rows = self._db.execute(f"SELECT {_COLUMNS} FROM taps ORDER BY device_sequence")
            return [_stored_tap(row) for row in rows]

    def pending_between(self, after: int, up_to: int, limit: int) -> list[StoredTap]:
        """The first ``limit`` pending taps with ``after < device_sequence <= up_to``,
        in sequence order: the content of one batch."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM taps WHERE state = 'pending'"
                " AND device_sequence > ? AND device_sequence <= ?"
                " ORDER BY device_sequence LIMIT ?",
                (after, up_to, limit),
            )
            return [_stored_tap(row) for row in rows]

    def record(self, outcomes: Sequence[TapOutcome]) -> None:
        """Records one batch's answers in one transaction: all or none survive a crash."""
        with self._transaction() as db:
            db.executemany(
                "UPDATE taps SET state = ?, reject_reason = ?, detail = ?"
                " WHERE tap_id = ? AND state = 'pending'",
                [(o.state, o.reject_reason, o.detail, o.tap_id) for o in outcomes],
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()
