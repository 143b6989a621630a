"""A bounded, per-database cache of committed ledger accounts.

Every tap batch touches about as many rider accounts as it has taps, and
reading them back is a large share of a batch's work. Accounts never change
once written (no code path updates or deletes them; TigerBeetle's account
closing is not offered), so an account that was committed stays exactly as
it is, and a cached copy cannot go stale, in this process or any other.

Only committed accounts enter the cache: what a transaction reads or
creates is staged on its session and published by the session's
``after_commit`` event; any rollback, savepoint included, discards the
stage. A rolled-back account can therefore never look as if it existed.
"""

from __future__ import annotations

import threading
import uuid
import weakref
from collections.abc import Iterable, Sequence

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from clearing.caching import BoundedCache
from clearing.ledger._contract import Account

DEFAULT_CAPACITY = 100_000
"""About 40 MiB at most: the riders of a busy hour, who tap on and off and
transfer within it."""

_STAGED = "clearing.ledger.staged_accounts"


class AccountCache(BoundedCache[int, Account]):
    """Committed accounts by the integer of their id, least recently used
    first out. An int hashes in C and a UUID in Python code, and every tap
    looks up two accounts."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        super().__init__(capacity)

    def __contains__(self, account_id: object) -> bool:
        return isinstance(account_id, uuid.UUID) and super().__contains__(account_id.int)

    def add(self, accounts: Iterable[Account]) -> None:
        self.put_many((account.account_id.int, account) for account in accounts)


_caches: weakref.WeakKeyDictionary[Engine, AccountCache] = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()


def account_cache(session: Session) -> AccountCache:
    """The cache of the database ``session`` is bound to."""
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    with _caches_lock:
        cache = _caches.get(engine)
        if cache is None:
            cache = _caches[engine] = AccountCache()
        return cache


def stage(session: Session, accounts: Sequence[Account]) -> None:
    """Accounts this transaction saw in the database or wrote; they reach
    the cache only if it commits."""
    if accounts:
        session.info.setdefault(_STAGED, []).extend(accounts)


@event.listens_for(Session, "after_commit")
def _publish(session: Session) -> None:
    staged = session.info.pop(_STAGED, None)
    if staged:
        account_cache(session).add(staged)


@event.listens_for(Session, "after_soft_rollback")
def _discard(session: Session, _previous_transaction: object) -> None:
    session.info.pop(_STAGED, None)
