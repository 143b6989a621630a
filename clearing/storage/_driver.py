"""Set-based reads and writes at the database driver's level, for the few
statements that run for every tap batch.

Through SQLAlchemy's typed statements each value passes through per-column
processors and every ``IN (...)`` list is compiled anew for its length.
Here a key set is one bound array on PostgreSQL (plain parameters on
SQLite), and PostgreSQL takes a batch's rows with one ``COPY``. Callers
convert values exactly as the column types would (instants as naive UTC
text and UUIDs as 32-digit hex on SQLite; native values on PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, cast

import psycopg
from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

_SQLITE_CHUNK = 500  # bound parameters per statement, well under SQLite's limit


def sqlite_instant(instant: datetime) -> str:
    """The text SQLAlchemy's SQLite DateTime stores for an aware instant:
    naive UTC, to the microsecond."""
    if instant.tzinfo is not UTC:  # most instants are UTC already
        instant = instant.astimezone(UTC)
    return instant.isoformat(" ", "microseconds")[:-6]  # without its "+00:00"


def is_sqlite(connection: Connection) -> bool:
    return connection.dialect.name == "sqlite"


def rows_by_keys(
    connection: Connection, columns: str, table: str, key: str, keys: Sequence[Any]
) -> list[Any]:
    """Rows of ``table`` whose ``key`` is among ``keys``. ``keys`` are driver
    values: text (or hex UUIDs) on SQLite.

    PostgreSQL takes the whole set as one array. SQLite gets plain bound
    parameters, a chunk at a time: a JSON array would be one parameter, but
    SQLite's JSON functions cut a string at an escaped NUL, and a tap id may
    hold one.
    """
    if not keys:
        return []
    if not is_sqlite(connection):
        statement = f"SELECT {columns} FROM {table} WHERE {key} = ANY(%s)"
        return list(connection.exec_driver_sql(statement, (list(keys),)).all())
    rows: list[Any] = []
    for start in range(0, len(keys), _SQLITE_CHUNK):
        chunk = tuple(keys[start : start + _SQLITE_CHUNK])
        marks = ", ".join("?" * len(chunk))
        statement = f"SELECT {columns} FROM {table} WHERE {key} IN ({marks})"
        rows.extend(connection.exec_driver_sql(statement, chunk).all())
    return rows


def insert_rows(
    connection: Connection,
    table: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[object]],
) -> None:
    """Appends ``rows``: one executemany on SQLite, one COPY on PostgreSQL.

    A refused row (a duplicate key, a failed check) raises SQLAlchemy's
    exception for it on both, IntegrityError included, so that callers that
    retry a lost race on a key see the same error either way.
    """
    names = ", ".join(columns)
    if is_sqlite(connection):
        marks = ", ".join("?" for _ in columns)
        connection.exec_driver_sql(f"INSERT INTO {table} ({names}) VALUES ({marks})", list(rows))
        return
    statement = f"COPY {table} ({names}) FROM STDIN"
    raw = cast("psycopg.Connection[Any]", connection.connection.dbapi_connection)
    try:
        with raw.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
    except psycopg.Error as error:
        raise DBAPIError.instance(statement, None, error, psycopg.Error) from error
