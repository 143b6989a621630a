"""Stored subtree roots of the ledger's Merkle log.

Proofs and tree heads were computed from every leaf hash of the tree: an
inclusion proof over a million transfers read a million hashes. The roots of
perfect subtrees at every fourth level (16, 256, 4,096... leaves) let a
proof read a few hundred. The table starts empty; the next checkpoint fills
it for the whole log, and until then proofs are computed from the leaves as
before. Like the log, it is append-only.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-22 18:15:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE_TRIGGERS = (
    """
    CREATE TRIGGER ledger_log_nodes_no_update BEFORE UPDATE ON ledger_log_nodes
    BEGIN SELECT RAISE(ABORT, 'the ledger log is append-only'); END
    """,
    """
    CREATE TRIGGER ledger_log_nodes_no_delete BEFORE DELETE ON ledger_log_nodes
    BEGIN SELECT RAISE(ABORT, 'the ledger log is append-only'); END
    """,
)

# ledger_append_only() is migration 0002's.
POSTGRES_TRIGGERS = (
    """
    CREATE TRIGGER ledger_log_nodes_append_only BEFORE UPDATE OR DELETE ON ledger_log_nodes
      FOR EACH ROW EXECUTE FUNCTION ledger_append_only()
    """,
)


def upgrade() -> None:
    op.create_table(
        "ledger_log_nodes",
        sa.Column("level", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("node_index", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("node_hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("level", "node_index", name=op.f("pk_ledger_log_nodes")),
    )
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in POSTGRES_TRIGGERS if postgres else SQLITE_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("ledger_log_nodes")
