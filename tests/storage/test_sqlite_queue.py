"""SQLite writers of one process take turns on the database's own queue:
a transaction waits for its turn, and fails as SQLite would (never hangs)
when it cannot get one."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from clearing.storage import Database
from clearing.storage import _database as database_module


def test_a_transaction_that_never_gets_its_turn_fails_as_sqlite_would(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(database_module, "SQLITE_QUEUE_TIMEOUT_S", 0.2)
    database = Database(f"sqlite:///{tmp_path / 'queue.db'}")
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with database.transaction() as session:
            session.execute(text("SELECT 1"))
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(10)
        with (
            pytest.raises(OperationalError, match="database is locked"),
            database.transaction() as session,
        ):
            session.execute(text("SELECT 1"))
    finally:
        release.set()
        holder.join(10)
    with database.transaction() as session:  # its turn comes once the other commits
        assert session.scalar(text("SELECT 1")) == 1
    database.dispose()


def test_a_thread_may_open_a_second_transaction_inside_its_first(tmp_path: Path) -> None:
    """As SQLite allows while the first has not touched the database yet."""
    database = Database(f"sqlite:///{tmp_path / 'queue.db'}")
    with database.transaction(), database.transaction() as inner:
        assert inner.scalar(text("SELECT 1")) == 1
    database.dispose()
