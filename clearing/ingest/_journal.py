"""The tap journal's per-batch read and write, at the database driver's level.

Every batch looks up its tap ids and appends its new taps. Through the ORM's
bulk insert each value of each row passes through per-column processors and
every ``IN (...)`` list is compiled anew for its length; here the id set is
one bound parameter (a SQLite JSON array, a PostgreSQL array) and the rows
are converted exactly as the column types of ``TapRow`` would: instants as
naive UTC text on SQLite, native values on PostgreSQL, where the rows go in
with one ``COPY``. A duplicate tap id raises SQLAlchemy's IntegrityError on
both, as the ORM's insert did.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast

import psycopg
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

TAP_COLUMNS = (
    "tap_id", "device_id", "operator_id", "device_sequence", "tapped_at", "medium_token",
    "direction", "batch_id", "received_at", "content_digest",
)  # fmt: skip
_INSERT_COLUMNS = ", ".join(TAP_COLUMNS)

# One journal row, in TAP_COLUMNS order, with Python values.
JournalRow = tuple[str, str, str, int, datetime, str, str, str, datetime, bytes]


def _sqlite_instant(instant: datetime) -> str:
    """The text SQLAlchemy's SQLite DateTime stores for an aware instant:
    naive UTC, to the microsecond."""
    if instant.tzinfo is not UTC:  # taps arrive in UTC; only others need converting
        instant = instant.astimezone(UTC)
    return instant.isoformat(" ", "microseconds")[:-6]  # without its "+00:00"


def stored_digests(session: Session, tap_ids: Sequence[str]) -> dict[str, bytes]:
    """The content digest of each of ``tap_ids`` already in the journal."""
    if not tap_ids:
        return {}
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        statement = (
            "SELECT tap_id, content_digest FROM taps "
            "WHERE tap_id IN (SELECT value FROM json_each(?))"
        )
        parameter: object = json.dumps(list(tap_ids))
    else:
        statement = "SELECT tap_id, content_digest FROM taps WHERE tap_id = ANY(%s)"
        parameter = list(tap_ids)
    rows = connection.exec_driver_sql(statement, (parameter,)).all()
    return {tap_id: bytes(digest) for tap_id, digest in rows}


def append_taps(session: Session, rows: Sequence[JournalRow]) -> None:
    """Appends ``rows`` to the journal in one statement."""
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        marks = ", ".join("?" for _ in TAP_COLUMNS)
        # A batch's taps share their arrival time: convert it once.
        received = {instant: _sqlite_instant(instant) for instant in {r[8] for r in rows}}
        connection.exec_driver_sql(
            f"INSERT INTO taps ({_INSERT_COLUMNS}) VALUES ({marks})",
            [
                (r[0], r[1], r[2], r[3], _sqlite_instant(r[4]), r[5], r[6], r[7],
                 received[r[8]], r[9])
                for r in rows
            ],
        )  # fmt: skip
        return
    statement = f"COPY taps ({_INSERT_COLUMNS}) FROM STDIN"
    raw = cast("psycopg.Connection[Any]", connection.connection.dbapi_connection)
    try:
        with raw.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
    except psycopg.IntegrityError as error:
        raise IntegrityError(statement, None, error) from error
