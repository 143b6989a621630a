"""The tap journal's per-batch read and write, at the database driver's level.

Every batch looks up its tap ids and appends its new taps, through the
shared driver-level helpers (``clearing.storage._driver``) instead of the
ORM's bulk insert, with values converted exactly as the column types of
``TapRow`` would: instants as naive UTC text on SQLite, native values on
PostgreSQL. A duplicate tap id raises SQLAlchemy's IntegrityError on both,
as the ORM's insert did.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from clearing.storage._driver import insert_rows, is_sqlite, rows_by_keys, sqlite_instant

TAP_COLUMNS = (
    "tap_id", "device_id", "operator_id", "device_sequence", "tapped_at", "medium_token",
    "direction", "batch_id", "received_at", "content_digest",
)  # fmt: skip

# One journal row, in TAP_COLUMNS order, with Python values.
JournalRow = tuple[str, str, str, int, datetime, str, str, str, datetime, bytes]


def stored_digests(session: Session, tap_ids: Sequence[str]) -> dict[str, bytes]:
    """The content digest of each of ``tap_ids`` already in the journal."""
    rows = rows_by_keys(session.connection(), "tap_id, content_digest", "taps", "tap_id", tap_ids)
    return {tap_id: bytes(digest) for tap_id, digest in rows}


def append_taps(session: Session, rows: Sequence[JournalRow]) -> None:
    """Appends ``rows`` to the journal in one statement."""
    if not rows:
        return
    connection = session.connection()
    if not is_sqlite(connection):
        insert_rows(connection, "taps", TAP_COLUMNS, rows)
        return
    # A batch's taps share their arrival time: convert it once.
    received = {instant: sqlite_instant(instant) for instant in {r[8] for r in rows}}
    insert_rows(
        connection, "taps", TAP_COLUMNS,
        [
            (r[0], r[1], r[2], r[3], sqlite_instant(r[4]), r[5], r[6], r[7], received[r[8]], r[9])
            for r in rows
        ],
    )  # fmt: skip
