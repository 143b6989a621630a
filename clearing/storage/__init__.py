"""Storage: SQLAlchemy 2 tables, engines for SQLite and PostgreSQL, and the
alembic migrations that build the one schema both share."""

from clearing.storage._database import (
    DEFAULT_DATABASE_URL,
    Database,
    normalize_database_url,
)

__all__ = ["DEFAULT_DATABASE_URL", "Database", "normalize_database_url"]
