"""Each tree head records the instant through which the log held every
transfer when it was signed.

The sequencer looked for transfers without a leaf from the start of the
log at every checkpoint, about 2 s per million transfers of history. The
ledger's horizon (0008) guarantees that once it stands at an instant, every
transfer created at or before it has committed and none will be created
there again; a checkpoint that sequenced everything records the horizon it
started from, and the next one starts after it. Adding a nullable column
leaves the table as it is on both databases.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-22 18:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import clearing.storage._types

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "ledger_checkpoints",
        sa.Column(
            "logged_through", clearing.storage._types.UTCDateTime(timezone=True), nullable=True
        ),
    )


def downgrade() -> None:
    with op.batch_alter_table("ledger_checkpoints") as batch_op:
        batch_op.drop_column("logged_through")
