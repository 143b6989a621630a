"""Engines, sessions and migrations for the two supported databases.

SQLite is the embedded default: a single file in WAL mode with
``synchronous=FULL``, so a committed batch survives a crash of the process or
the machine before its taps are acknowledged. Every SQLite transaction starts
with ``BEGIN IMMEDIATE``: writers queue on the busy timeout instead of failing
when a read transaction tries to upgrade to a write.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import resources
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

from clearing.errors import InvalidRequestError, MigrationRefusedError

DEFAULT_DATABASE_URL = "sqlite:///farebridge.db"
SQLITE_BUSY_TIMEOUT_MS = 30_000
SQLITE_QUEUE_TIMEOUT_S = 120.0
"""How long a transaction waits for its turn among this process's SQLite
writers before it fails as SQLite would ("database is locked")."""
SQLITE_WAL_AUTOCHECKPOINT_PAGES = 10_000
"""About 40 MiB of write-ahead log between automatic checkpoints. SQLite's
default (1,000 pages) is about one tap batch, so nearly every commit paid
for a checkpoint; a checkpoint every few batches writes each hot index page
back once instead of every time (about 15% more taps per second)."""
SQLITE_CACHE_MIB = 64
"""Page cache of each SQLite connection, in MiB, instead of SQLite's 2 MiB.
When each tap inserted into indexes whose keys arrive in no order (rider
accounts and media, until migration 0013 took them off the tap path on
SQLite), a batch reached a page of each per tap; with the default cache
nearly every one was read back from the file first. The cache also holds
the tails of the ordered indexes and the pages the upkeep reads. The cache
fills as the database grows and then stays at this size; the pool hands out
its most recently used connection first (``pool_use_lifo``), because a
connection's cache is dropped whenever another connection has written, and
under load the same warm connection then serves one writer after another.
Together: 11-15% more taps per second end to end, about 20% on the storage
path alone (``benchmarks/tap_storage.py``)."""


def _unchanged(value: None) -> None:
    return value


def _bind_none_and_bytes_directly() -> None:
    """Registers identity adapters for None and bytes with pysqlite.

    pysqlite binds an exact int, float or str as it is, but looks every other
    value up in its adapter registry first, and then looks for ``__adapt__``
    on the protocol and ``__conform__`` on the value, before it binds the
    value unchanged. A fare transfer binds two NULLs and a tap its digest,
    on the writer's turn. With an adapter registered, the first lookup
    answers and the values bound are the same: an executemany of rows of
    six values, two of them NULL, went from 1.95 to 1.48 µs per row.
    (Registering one for int, float or str would make pysqlite look up
    every value, so none is.)
    """
    sqlite3.register_adapter(bytes, bytes)
    sqlite3.register_adapter(type(None), _unchanged)


_bind_none_and_bytes_directly()


def normalize_database_url(url: str) -> str:
    """Accepts the URLs people type (``postgresql://``) and picks psycopg 3."""
    try:
        parsed = make_url(url)
    except ArgumentError as error:
        raise InvalidRequestError(f"not a database URL: {url!r}", field="database_url") from error
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if not parsed.drivername.startswith(("sqlite", "postgresql")):
        raise InvalidRequestError(
            f"unsupported database {parsed.drivername!r}: use sqlite:///FILE or postgresql://...",
            field="database_url",
        )
    return parsed.render_as_string(hide_password=False)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute(f"PRAGMA wal_autocheckpoint={SQLITE_WAL_AUTOCHECKPOINT_PAGES}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_MIB * 1024}")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    """One database: its engine, its sessions and its migrations."""

    def __init__(self, url: str = DEFAULT_DATABASE_URL, *, echo: bool = False) -> None:
        self.url = normalize_database_url(url)
        connect_args: dict[str, Any] = {}
        if self.url.startswith("sqlite"):
            # Let our "begin" hook own transactions instead of the driver.
            connect_args = {"isolation_level": None, "check_same_thread": False}
        # Most recently used first: see SQLITE_CACHE_MIB.
        self.engine = create_engine(
            self.url, echo=echo, connect_args=connect_args, pool_use_lifo=True
        )
        self._writer: threading.RLock | None = None
        if self.engine.dialect.name == "sqlite":
            _configure_sqlite(self.engine)
            self._writer = threading.RLock()
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session inside one transaction: committed on success, rolled back
        on any exception. On SQLite, the process's transactions take turns
        (see ``_queued``)."""
        with self._queued(), self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def _queued(self) -> Iterator[None]:
        """On SQLite, where one writer at a time holds the database, this
        process's transactions queue on a lock of their own, held until the
        commit has returned.

        The commit runs SQLite's automatic checkpoint after it has released
        the database's write lock; a writer that starts during that
        checkpoint keeps the write-ahead log from ever starting over, and
        under sustained load the log (and the memory that maps its index)
        grew without bound, gigabytes in minutes. Queued here, the next
        writer starts after the checkpoint, and the log is reused from its
        start. Left to SQLite's busy handler, waiting writers also poll with
        growing sleeps, so one that has waited long polls least often and
        could wait out the busy timeout. The lock is reentrant, as SQLite
        itself lets a thread open a second transaction while its first has
        not yet touched the database; a transaction waits for its turn at
        most ``SQLITE_QUEUE_TIMEOUT_S``, then fails with SQLite's own error.
        """
        if self._writer is None:
            yield
            return
        if not self._writer.acquire(timeout=SQLITE_QUEUE_TIMEOUT_S):
            raise OperationalError(
                "BEGIN IMMEDIATE", None, sqlite3.OperationalError("database is locked")
            )
        try:
            yield
        finally:
            self._writer.release()

    def migrate(self, revision: str = "head") -> None:
        """Brings the schema up to ``revision`` (the newest by default); safe
        to run every start."""
        self._run_migrations(command.upgrade, revision)

    def downgrade(self, revision: str) -> None:
        """Takes the schema back to ``revision``, as before rolling back a
        release."""
        self._run_migrations(command.downgrade, revision)

    def _run_migrations(self, step: Callable[[Config, str], None], revision: str) -> None:
        """All of one upgrade or downgrade in one transaction."""
        with (
            self.engine.connect() as connection,
            _foreign_keys_off(connection),
            connection.begin(),
        ):
            config = alembic_config()
            config.attributes["connection"] = connection
            step(config, revision)
            _check_foreign_keys(connection)

    def dispose(self) -> None:
        self.engine.dispose()


@contextmanager
def _foreign_keys_off(connection: Connection) -> Iterator[None]:
    """On SQLite, foreign keys off for the migrations on ``connection``.

    SQLite changes a table's constraints only by building the table again
    and dropping the old one; with foreign keys on, that drop deletes every
    row first and the tables that refer to them refuse. SQLite ignores this
    setting inside a transaction, so it is made before the migrations begin
    and made again after they end, before the connection serves anyone else.
    """
    if connection.dialect.name != "sqlite":
        yield
        return
    driver = connection.connection.dbapi_connection
    assert driver is not None
    driver.execute("PRAGMA foreign_keys=OFF")
    try:
        yield
    finally:
        driver.execute("PRAGMA foreign_keys=ON")


def _check_foreign_keys(connection: Connection) -> None:
    """Refuses to commit migrations that left a row referring to nothing
    (SQLite, where they ran with foreign keys off)."""
    if connection.dialect.name != "sqlite":
        return
    orphans = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    if orphans:
        table, rowid, parent, _ = orphans[0]
        raise MigrationRefusedError(
            f"the migration would leave {len(orphans)} rows whose foreign keys find no row; "
            f"the first is row {rowid} of {table}, referring to {parent}. Nothing was changed"
        )


def alembic_config() -> Config:
    """Alembic settings that need no ini file, so migrations ship in the wheel."""
    config = Config()
    location = resources.files("clearing.storage") / "migrations"
    config.set_main_option("script_location", str(location))
    return config
