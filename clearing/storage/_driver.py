"""Set-based reads and writes at the database driver's level, for the few
statements that run for every tap batch.

Through SQLAlchemy's typed statements each value passes through per-column
processors and every ``IN (...)`` list is compiled anew for its length.
Here a whole key set is one bound parameter (a PostgreSQL array, a SQLite
JSON array), and PostgreSQL takes a batch's rows with one ``COPY``. Callers
convert values exactly as the column types would (instants as naive UTC
text and UUIDs as 32-digit hex on SQLite; native values on PostgreSQL).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any, cast

import psycopg
from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError


def is_sqlite(connection: Connection) -> bool:
    return connection.dialect.name == "sqlite"


def rows_by_keys(
    connection: Connection, columns: str, table: str, key: str, keys: Sequence[Any]
) -> Sequence[Any]:
    """Rows of ``table`` whose ``key`` is among ``keys``, in one statement.
    ``keys`` are driver values: text (or hex UUIDs) on SQLite."""
    if not keys:
        return []
    if is_sqlite(connection):
        statement = f"SELECT {columns} FROM {table} WHERE {key} IN (SELECT value FROM json_each(?))"
        parameter: object = json.dumps(list(keys))
    else:
        statement = f"SELECT {columns} FROM {table} WHERE {key} = ANY(%s)"
        parameter = list(keys)
    return connection.exec_driver_sql(statement, (parameter,)).all()


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
