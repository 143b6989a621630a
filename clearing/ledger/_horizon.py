"""The ledger's horizon: the instant at or before which it creates no more
transfers.

A transfer's ``created_at`` is the posting's clock, read before its
transaction commits, so without a horizon a transaction that commits just
after a clearing cycle closes could carry a timestamp that cycle covered.
With one, every transfer created once the horizon stands at H is stamped
after H (a posting whose clock is behind it is stamped one microsecond
after it), and a close that advances the horizon to its cut-off knows that
nothing will ever be created at or before that cut-off again.

The two sides must not overlap. On SQLite every write transaction holds the
database's one write lock from its start, so they cannot. On PostgreSQL a
posting share-locks the horizon's table before reading it, and a close
locks it exclusively: the close waits for every posting that read the old
horizon to commit (its statements then see them), and a posting that
starts meanwhile waits for the close and reads the new horizon.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from clearing.storage.models import LedgerHorizonRow

HORIZON_STEP = timedelta(microseconds=1)


def _lock(session: Session, mode: str) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"LOCK TABLE ledger_horizon IN {mode} MODE"))


# Built once: every ledger batch reads the horizon, and building the
# statement cost more than running it.
_CURRENT = select(LedgerHorizonRow.horizon).where(LedgerHorizonRow.singleton == 1)


def current_horizon(session: Session) -> datetime | None:
    """The horizon as last committed, without holding it. Every transfer
    created at or before it has committed: the close that set it waited for
    the postings that could be."""
    return session.scalar(_CURRENT)


_HELD = "farebridge.ledger_horizon_held"


def after_horizon(session: Session, now: datetime) -> datetime:
    """The instant a posting at ``now`` is created at: ``now``, or just
    after the horizon when the clock is behind it. Holds the horizon where
    it stands until the caller's transaction ends.

    Once held, nothing but this transaction's own ``advance_horizon`` can
    move it, so it is read once per transaction: a transaction that stores
    several reader batches posts each of them.
    """
    transaction = session.get_transaction()
    held = session.info.get(_HELD)
    if held is not None and held[0] is transaction:
        horizon: datetime | None = held[1]
    else:
        _lock(session, "ACCESS SHARE")
        horizon = current_horizon(session)
        session.info[_HELD] = (transaction, horizon)
    if horizon is None or now > horizon:
        return now
    return horizon + HORIZON_STEP


def hold_horizon(session: Session) -> datetime | None:
    """Stops every posting until the caller's transaction ends, and answers
    the horizon (None when none was ever set). Call it before reading what
    the ledger holds."""
    _lock(session, "ACCESS EXCLUSIVE")
    return current_horizon(session)


def advance_horizon(session: Session, instant: datetime) -> None:
    """Moves the horizon to ``instant`` (never back), in the caller's
    transaction, which should hold it (``hold_horizon``)."""
    row = session.get(LedgerHorizonRow, 1)
    if row is None:
        session.add(LedgerHorizonRow(singleton=1, horizon=instant))
    elif instant > row.horizon:
        row.horizon = instant
    session.flush()
    session.info.pop(_HELD, None)
