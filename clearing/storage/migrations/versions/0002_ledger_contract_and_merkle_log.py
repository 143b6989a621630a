"""Ledger contract (flags, two-phase transfers, failures) and the Merkle log.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 10:46:09.114689
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import clearing.storage._types

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = clearing.storage._types.UTCDateTime(timezone=True)

# The database holds the ledger's invariants too, so that no code path (and no
# hand-written SQL) can commit an unbalanced or edited transfer.
SQLITE_TRIGGERS = (
    """
    CREATE TRIGGER ledger_transfers_balanced BEFORE INSERT ON ledger_transfers
    WHEN (SELECT currency FROM ledger_accounts WHERE account_id = NEW.debit_account_id)
            IS NOT NEW.currency
      OR (SELECT currency FROM ledger_accounts WHERE account_id = NEW.credit_account_id)
            IS NOT NEW.currency
    BEGIN SELECT RAISE(ABORT, 'ledger transfer does not balance in its currency'); END
    """,
    """
    CREATE TRIGGER ledger_transfers_no_update BEFORE UPDATE ON ledger_transfers
    BEGIN SELECT RAISE(ABORT, 'ledger transfers are append-only'); END
    """,
    """
    CREATE TRIGGER ledger_transfers_no_delete BEFORE DELETE ON ledger_transfers
    BEGIN SELECT RAISE(ABORT, 'ledger transfers are append-only'); END
    """,
    """
    CREATE TRIGGER ledger_log_no_update BEFORE UPDATE ON ledger_log
    BEGIN SELECT RAISE(ABORT, 'the ledger log is append-only'); END
    """,
    """
    CREATE TRIGGER ledger_log_no_delete BEFORE DELETE ON ledger_log
    BEGIN SELECT RAISE(ABORT, 'the ledger log is append-only'); END
    """,
)

POSTGRES_TRIGGERS = (
    """
    CREATE FUNCTION ledger_transfer_balanced() RETURNS trigger AS $$
    BEGIN
      -- Checked at commit. A transfer debits one account and credits another
      -- by one amount, so a set of transfers balances in every currency
      -- exactly when each transfer's two accounts hold the transfer's currency.
      IF NOT EXISTS (
          SELECT 1 FROM ledger_accounts d, ledger_accounts c
           WHERE d.account_id = NEW.debit_account_id AND c.account_id = NEW.credit_account_id
             AND d.currency = NEW.currency AND c.currency = NEW.currency) THEN
        RAISE EXCEPTION 'ledger transfer % does not balance in %', NEW.transfer_id, NEW.currency;
      END IF;
      RETURN NULL;
    END $$ LANGUAGE plpgsql
    """,
    """
    CREATE CONSTRAINT TRIGGER ledger_transfers_balanced
      AFTER INSERT ON ledger_transfers DEFERRABLE INITIALLY DEFERRED
      FOR EACH ROW EXECUTE FUNCTION ledger_transfer_balanced()
    """,
    """
    CREATE FUNCTION ledger_append_only() RETURNS trigger AS $$
    BEGIN
      RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
    END $$ LANGUAGE plpgsql
    """,
    """
    CREATE TRIGGER ledger_transfers_append_only BEFORE UPDATE OR DELETE ON ledger_transfers
      FOR EACH ROW EXECUTE FUNCTION ledger_append_only()
    """,
    """
    CREATE TRIGGER ledger_log_append_only BEFORE UPDATE OR DELETE ON ledger_log
      FOR EACH ROW EXECUTE FUNCTION ledger_append_only()
    """,
)


def upgrade() -> None:
    op.create_table(
        "ledger_checkpoints",
        sa.Column("tree_size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("root_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("signed_note", sa.Text(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("tree_size", name=op.f("pk_ledger_checkpoints")),
    )
    op.create_table(
        "ledger_failures",
        sa.Column("transfer_id", sa.Uuid(), nullable=False),
        sa.Column("result", sa.String(length=64), nullable=False),
        sa.Column("failed_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("transfer_id", name=op.f("pk_ledger_failures")),
    )
    op.create_table(
        "ledger_log",
        sa.Column("leaf_index", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("transfer_id", sa.Uuid(), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["transfer_id"],
            ["ledger_transfers.transfer_id"],
            name=op.f("fk_ledger_log_transfer_id_ledger_transfers"),
        ),
        sa.PrimaryKeyConstraint("leaf_index", name=op.f("pk_ledger_log")),
        sa.UniqueConstraint("transfer_id", name=op.f("uq_ledger_log_transfer_id")),
    )
    op.create_table(
        "ledger_pending_resolutions",
        sa.Column("pending_id", sa.Uuid(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("resolved_by", sa.Uuid(), nullable=True),
        sa.Column("resolved_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["pending_id"],
            ["ledger_transfers.transfer_id"],
            name=op.f("fk_ledger_pending_resolutions_pending_id_ledger_transfers"),
        ),
        sa.PrimaryKeyConstraint("pending_id", name=op.f("pk_ledger_pending_resolutions")),
    )
    with op.batch_alter_table("ledger_accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("flags", sa.Integer(), server_default="0", nullable=False))
    with op.batch_alter_table("ledger_transfers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_transfers_source_ref"))
        batch_op.alter_column("source_ref", new_column_name="user_data")
    with op.batch_alter_table("ledger_transfers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("flags", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("pending_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("timeout", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("expires_at", UTC_DATETIME, nullable=True))
        batch_op.create_index(
            batch_op.f("ix_ledger_transfers_user_data"), ["user_data"], unique=False
        )
    triggers = POSTGRES_TRIGGERS if op.get_bind().dialect.name == "postgresql" else SQLITE_TRIGGERS
    for statement in triggers:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER ledger_log_append_only ON ledger_log")
        op.execute("DROP TRIGGER ledger_transfers_append_only ON ledger_transfers")
        op.execute("DROP TRIGGER ledger_transfers_balanced ON ledger_transfers")
        op.execute("DROP FUNCTION ledger_append_only()")
        op.execute("DROP FUNCTION ledger_transfer_balanced()")
    else:
        for name in (
            "ledger_transfers_balanced",
            "ledger_transfers_no_update",
            "ledger_transfers_no_delete",
            "ledger_log_no_update",
            "ledger_log_no_delete",
        ):
            op.execute(f"DROP TRIGGER {name}")
    with op.batch_alter_table("ledger_transfers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_transfers_user_data"))
        batch_op.drop_column("expires_at")
        batch_op.drop_column("timeout")
        batch_op.drop_column("pending_id")
        batch_op.drop_column("flags")
        batch_op.alter_column("user_data", new_column_name="source_ref")
    with op.batch_alter_table("ledger_transfers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ledger_transfers_source_ref"), ["source_ref"], unique=False
        )
    with op.batch_alter_table("ledger_accounts", schema=None) as batch_op:
        batch_op.drop_column("flags")
    op.drop_table("ledger_pending_resolutions")
    op.drop_table("ledger_log")
    op.drop_table("ledger_failures")
    op.drop_table("ledger_checkpoints")
