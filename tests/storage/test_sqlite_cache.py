"""SQLite keeps its hot index pages in memory across transactions: every
connection has a page cache sized for the tap path, and the pool hands out
the connection that served the last transaction, whose cache is still valid
(SQLite drops a connection's cache whenever another one has written)."""

from __future__ import annotations

from pathlib import Path

from clearing.storage import Database
from clearing.storage._database import SQLITE_CACHE_MIB


def _connection_and_cache(database: Database) -> tuple[int, int]:
    with database.transaction() as session:
        connection = session.connection()
        cache = connection.exec_driver_sql("PRAGMA cache_size").scalar_one()
        return id(connection.connection.dbapi_connection), cache


def test_each_connection_has_the_tap_path_cache(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'cache.db'}")
    try:
        _, cache = _connection_and_cache(database)
        assert cache == -SQLITE_CACHE_MIB * 1024  # negative: KiB, not pages
    finally:
        database.dispose()


def test_the_last_used_connection_serves_the_next_transaction(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'cache.db'}")
    try:
        # Three connections checked out at once, returned in the order c, b, a.
        with database.engine.connect() as a, database.engine.connect() as b:
            with database.engine.connect() as c:
                first_back = id(c.connection.dbapi_connection)
            assert id(b.connection.dbapi_connection) != first_back
            last_back = id(a.connection.dbapi_connection)
        served = [_connection_and_cache(database)[0] for _ in range(5)]
        assert served == [last_back] * 5
    finally:
        database.dispose()
