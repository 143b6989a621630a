"""The ledger's horizon: the instant at or before which it creates no more
transfers. Closing a clearing cycle advances it to the cut-off, so nothing
can commit later with a timestamp the closed cycle covered, and the next
close reads only the range of the ``created_at`` index between the two
cut-offs.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22 16:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import clearing.storage._types

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ledger_horizon",
        sa.Column("singleton", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("horizon", clearing.storage._types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("singleton = 1", name=op.f("ck_ledger_horizon_one_row")),
        sa.PrimaryKeyConstraint("singleton", name=op.f("pk_ledger_horizon")),
    )


def downgrade() -> None:
    op.drop_table("ledger_horizon")
