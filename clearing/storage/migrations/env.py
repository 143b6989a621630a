"""Alembic environment: migrations run on a connection the caller opened."""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import Connection

from clearing.storage.models import Base, exists_on


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=_on_this_database(connection.dialect.name),
    )
    with context.begin_transaction():
        context.run_migrations()


def _on_this_database(dialect: str) -> Any:
    """Leaves out of autogenerate what the models declare for the other
    database only."""

    def include(schema_item: object, *_: object) -> bool:
        return exists_on(schema_item, dialect)

    return include


connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("farebridge runs migrations through Database.migrate()")
run_migrations(connection)
