"""On SQLite, the two per-rider indexes leave the tap path: a medium's taps
are found through sorted runs, and balances come from folded totals.

``ix_taps_medium_token`` and ``ix_ledger_transfers_debit_account_id`` took
one key per tap in no order, and on SQLite each tap wrote a whole leaf page
of each to the write-ahead log, and again at the checkpoint. On SQLite this
migration

- drops ``ix_taps_medium_token``; ``index_runs`` and ``index_run_entries``
  hold sorted runs instead (clearing/storage/_runs.py), and one run is
  written here over the taps already stored, so lookups on an upgraded
  database do not fall back to scanning its history. Its level says how
  many times ``FANOUT`` level-0 runs of ``RUN_ROWS`` it holds, as if the
  upkeep had built it;
- drops ``ix_ledger_transfers_debit_account_id``; ``ledger_account_totals``
  holds each account's posted debits and credits up to the rowid in
  ``ledger_totals_through`` (clearing/ledger/_totals.py), folded here over
  the transfers already stored; pending debits get a partial index of their
  own.

PostgreSQL keeps both indexes (its write-ahead log holds records, not
pages); the new tables exist there too, and stay empty.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 20:30:00.000000
"""

import math
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RUN_ROWS = 65_536  # as clearing/storage/_runs.py had them when this was written
FANOUT = 16
NOT_POSTED = 10  # pending (2) or void (8)
PENDING_DEBIT_INDEX = (
    "CREATE INDEX ix_ledger_transfers_pending_debit "
    "ON ledger_transfers (debit_account_id) WHERE (flags & 2) != 0"
)


def upgrade() -> None:
    op.create_table(
        "index_runs",
        sa.Column("run", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("index_name", sa.String(length=64), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("first_rowid", sa.BigInteger(), nullable=False),
        sa.Column("last_rowid", sa.BigInteger(), nullable=False),
        sa.Column("merging_into", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("run", name=op.f("pk_index_runs")),
    )
    op.create_table(
        "index_run_entries",
        sa.Column("run", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("source_rowid", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("run", "key", "source_rowid", name=op.f("pk_index_run_entries")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "ledger_account_totals",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("debits_posted", sa.BigInteger(), nullable=False),
        sa.Column("credits_posted", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_ledger_account_totals")),
    )
    op.create_table(
        "ledger_totals_through",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_rowid", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_totals_through")),
    )
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("DROP INDEX ix_taps_medium_token")
    _run_over_existing_taps()
    op.execute("DROP INDEX ix_ledger_transfers_debit_account_id")
    op.execute(PENDING_DEBIT_INDEX)
    _fold_existing_transfers()


def _run_over_existing_taps() -> None:
    bind = op.get_bind()
    rows, last = bind.exec_driver_sql("SELECT count(*), coalesce(max(rowid), 0) FROM taps").one()
    if not rows:
        return
    level = max(0, math.floor(math.log(max(1, rows // RUN_ROWS), FANOUT)))
    bind.exec_driver_sql(
        "INSERT INTO index_run_entries (run, key, source_rowid) "
        "SELECT 1, medium_token, rowid FROM taps ORDER BY medium_token, rowid"
    )
    bind.exec_driver_sql(
        "INSERT INTO index_runs (run, index_name, level, first_rowid, last_rowid) "
        "VALUES (1, 'taps_medium_token', ?, 1, ?)",
        (level, last),
    )


def _fold_existing_transfers() -> None:
    bind = op.get_bind()
    bind.exec_driver_sql(
        f"""
        INSERT INTO ledger_account_totals (account_id, debits_posted, credits_posted)
        SELECT account_id, sum(debits), sum(credits) FROM (
            SELECT debit_account_id AS account_id, amount AS debits, 0 AS credits
            FROM ledger_transfers WHERE (flags & {NOT_POSTED}) = 0
            UNION ALL
            SELECT credit_account_id, 0, amount
            FROM ledger_transfers WHERE (flags & {NOT_POSTED}) = 0
        ) GROUP BY account_id
        """
    )
    bind.exec_driver_sql(
        "INSERT INTO ledger_totals_through (id, last_rowid) "
        "SELECT 1, coalesce(max(rowid), 0) FROM ledger_transfers"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP INDEX ix_ledger_transfers_pending_debit")
        op.execute("CREATE INDEX ix_taps_medium_token ON taps (medium_token)")
        op.execute(
            "CREATE INDEX ix_ledger_transfers_debit_account_id "
            "ON ledger_transfers (debit_account_id)"
        )
    op.drop_table("ledger_totals_through")
    op.drop_table("ledger_account_totals")
    op.drop_table("index_run_entries")
    op.drop_table("index_runs")
