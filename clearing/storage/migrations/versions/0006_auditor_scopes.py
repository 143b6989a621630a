"""Auditor scopes: the participants a scoped auditor may see.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 11:58:06.856087
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "auditor_scopes",
        sa.Column("auditor_id", sa.String(length=64), nullable=False),
        sa.Column("participant_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["auditor_id"],
            ["participants.participant_id"],
            name=op.f("fk_auditor_scopes_auditor_id_participants"),
        ),
        sa.PrimaryKeyConstraint("auditor_id", "participant_id", name=op.f("pk_auditor_scopes")),
    )


def downgrade() -> None:
    op.drop_table("auditor_scopes")
