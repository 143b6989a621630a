"""Dropping an index or a trigger before a benchmark runs, to price it alone."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import text

from clearing.storage import Database


def drop_schema_items(database: Database, names: Sequence[str]) -> None:
    """Drops each named index or trigger; a name the database does not hold
    ends the benchmark with a message rather than a traceback."""
    with database.transaction() as session:
        for name in names:
            if database.dialect == "sqlite":
                kind = session.execute(
                    text("SELECT type FROM sqlite_master WHERE name = :name"), {"name": name}
                ).scalar_one_or_none()
                if kind is None:
                    raise SystemExit(f"--without: SQLite has no index or trigger named {name!r}")
                session.execute(text(f'DROP {kind.upper()} "{name}"'))
                continue
            table = session.execute(
                text("SELECT tgrelid::regclass::text FROM pg_trigger WHERE tgname = :name"),
                {"name": name},
            ).scalar_one_or_none()
            index = session.execute(text("SELECT to_regclass(:name)"), {"name": name}).scalar()
            if table is None and index is None:
                raise SystemExit(f"--without: PostgreSQL has no index or trigger named {name!r}")
            on = f' ON "{table}"' if table else ""
            session.execute(text(f'DROP {"TRIGGER" if table else "INDEX"} "{name}"{on}'))
