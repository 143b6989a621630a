"""A PostgreSQL schema of a benchmark's own, dropped when it is done, so a
run leaves the shared database as it found it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from clearing.storage import normalize_database_url


@contextmanager
def scratch_schema(url: str) -> Iterator[str]:
    """Creates a fresh schema in the database at ``url`` and yields a URL
    whose connections work in it; drops the schema and all in it afterwards."""
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin_url = make_url(normalize_database_url(url))
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            scoped = admin_url.update_query_dict({"options": f"-csearch_path={schema}"})
            yield scoped.render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        admin.dispose()
