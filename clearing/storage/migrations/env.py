"""Alembic environment: migrations run on a connection the caller opened."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from clearing.storage.models import Base


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("farebridge runs migrations through Database.migrate()")
run_migrations(connection)
