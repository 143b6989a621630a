"""Set-based writes that both dialects express differently."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from clearing.storage.models import Base


def insert_missing(session: Session, model: type[Base], rows: Sequence[dict[str, Any]]) -> None:
    """Inserts ``rows``, silently keeping any row whose primary key exists.

    Used only for rows whose content is a pure function of their key (such as
    ledger accounts with derived ids), where an existing row is the same row.
    """
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(postgresql.insert(model).on_conflict_do_nothing(), rows)
    else:
        session.execute(sqlite.insert(model).on_conflict_do_nothing(), rows)
