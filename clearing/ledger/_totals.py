"""Posted totals per account on SQLite, folded in from the transfers off the
tap path, so that a rider's balance needs no index on the debit leg.

An index on ``ledger_transfers.debit_account_id`` takes one key per fare in
no order (one rider account each), and on SQLite every tap paid for a
whole leaf page of it in the write-ahead log, twice (see
clearing/storage/_runs.py). Balances were its only reader: a fare's
transfer is found by its tap (``user_data``). So on SQLite the index goes,
and ``ledger_account_totals`` holds each account's posted debits and
credits over the transfers up to ``ledger_totals_through.last_rowid``.
``fold_totals`` moves that mark forward a bounded stretch at a time, adding
one aggregate per account, and a balance is the account's totals plus the
posted transfers past the mark, which a scan of that short tail finds.

Pending transfers are found by a partial index that holds them alone
(``ix_ledger_transfers_pending_debit``): a tap creates none. PostgreSQL
keeps the plain index and sums the transfers as before.

``ledger_transfers`` is append-only (its triggers refuse updates and
deletes), so its rowids are dense and each transfer is folded exactly once.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from clearing.ledger._contract import TransferFlags
from clearing.ledger._driver import id_keys

FOLD_AFTER = 16_384
"""Transfers past the mark before a fold is worth its transaction: about
the longest tail a balance scans (about 2 ms for 16,384 here). A longer stretch
also adds fewer rows per transfer to the totals: a rider's fares in it
fold into one."""
FOLD_ROWS = 65_536
"""Transfers one fold adds, at most (about a tenth of a second)."""

_NOT_POSTED = int(TransferFlags.PENDING | TransferFlags.VOID_PENDING)
PENDING_TERM = f"(flags & {int(TransferFlags.PENDING)}) != 0"
"""The partial index's condition, spelled as queries must spell it for
SQLite to use that index (literally, not with a bound parameter)."""


def folded_through(connection: Connection) -> int:
    mark = connection.exec_driver_sql(
        "SELECT last_rowid FROM ledger_totals_through WHERE id = 1"
    ).scalar()
    return int(mark or 0)


def fold_totals(session: Session) -> bool:
    """Adds the next stretch of transfers to the totals, if the tail is long
    enough to be worth it (never on PostgreSQL); answers whether it did."""
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return False
    through = folded_through(connection)
    newest = connection.exec_driver_sql(
        "SELECT coalesce(max(rowid), 0) FROM ledger_transfers"
    ).scalar()
    if int(newest or 0) - through < FOLD_AFTER:
        return False
    last = min(int(newest or 0), through + FOLD_ROWS)
    connection.exec_driver_sql(
        f"""
        INSERT INTO ledger_account_totals (account_id, debits_posted, credits_posted)
        SELECT account_id, sum(debits), sum(credits) FROM (
            SELECT debit_account_id AS account_id, amount AS debits, 0 AS credits
            FROM ledger_transfers WHERE rowid > ?1 AND rowid <= ?2 AND (flags & {_NOT_POSTED}) = 0
            UNION ALL
            SELECT credit_account_id, 0, amount
            FROM ledger_transfers WHERE rowid > ?1 AND rowid <= ?2 AND (flags & {_NOT_POSTED}) = 0
        ) WHERE true GROUP BY account_id
        ON CONFLICT (account_id) DO UPDATE SET
            debits_posted = debits_posted + excluded.debits_posted,
            credits_posted = credits_posted + excluded.credits_posted
        """,
        (through, last),
    )
    connection.exec_driver_sql(
        "INSERT INTO ledger_totals_through (id, last_rowid) VALUES (1, ?1) "
        "ON CONFLICT (id) DO UPDATE SET last_rowid = excluded.last_rowid",
        (last,),
    )
    return True


def posted_totals(
    session: Session, account_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, tuple[int, int]]:
    """(posted debits, posted credits) of each account on SQLite: its folded
    totals plus the posted transfers past the mark."""
    connection = session.connection()
    keys = list(id_keys(connection, account_ids))
    by_key = dict(zip(keys, account_ids, strict=True))
    found = {key: [0, 0] for key in keys}
    marks = ", ".join("?" * len(keys))
    for key, debits, credits in connection.exec_driver_sql(
        "SELECT account_id, debits_posted, credits_posted FROM ledger_account_totals "
        f"WHERE account_id IN ({marks})",
        tuple(keys),
    ):
        found[key] = [int(debits), int(credits)]
    through = folded_through(connection)
    for position, leg in enumerate(("debit_account_id", "credit_account_id")):
        for key, amount in connection.exec_driver_sql(
            # NOT INDEXED keeps SQLite on the rowid range: the credit leg's
            # index would walk every fare a revenue account ever took.
            f"SELECT {leg}, sum(amount) FROM ledger_transfers NOT INDEXED "
            f"WHERE rowid > ? AND (flags & {_NOT_POSTED}) = 0 AND {leg} IN ({marks}) "
            f"GROUP BY {leg}",
            (through, *keys),
        ):
            found[key][position] += int(amount)
    return {by_key[key]: (debits, credits) for key, (debits, credits) in found.items()}
