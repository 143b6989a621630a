"""The ledger's creation index carries the transfer id too, in the Merkle
log's leaf order (created_at, transfer_id).

The log sequencer appends unlogged transfers in that order a chunk at a
time. With the index on created_at alone, each chunk sorted every transfer
from its starting point onwards before taking the first 20,000, so
sequencing a million transfers took minutes. Read in index order, a chunk
stops at its limit. Ranges over created_at (a cycle's window) use the same
index. Only indexes change: ``ledger_transfers`` is not rebuilt (a batch
alter would drop its triggers).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22 17:10:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        op.f("ix_ledger_transfers_created_at_transfer_id"),
        "ledger_transfers",
        ["created_at", "transfer_id"],
    )
    op.drop_index(op.f("ix_ledger_transfers_created_at"), table_name="ledger_transfers")


def downgrade() -> None:
    op.create_index(op.f("ix_ledger_transfers_created_at"), "ledger_transfers", ["created_at"])
    op.drop_index(op.f("ix_ledger_transfers_created_at_transfer_id"), table_name="ledger_transfers")
