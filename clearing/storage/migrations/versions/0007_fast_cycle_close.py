"""Fast cycle close: an index on when transfers were committed, a lean
cycle membership table, and each cycle's high-water mark of what it cleared.

``cycle_transfers`` loses its foreign keys and its index on the cycle
number: each claimed row paid a lookup into ``ledger_transfers`` (on
PostgreSQL a row lock as well) and a second index insert, which together
cost more than the claim itself. Every id it holds is read from
``ledger_transfers`` in the claiming statement or was just posted, and the
ledger refuses deletes. On SQLite it becomes a WITHOUT ROWID table: one
B-tree per claimed row instead of two. ``ledger_transfers`` only gains an
index (no batch alter: that would drop its triggers).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 13:05:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import clearing.storage._types

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _cycle_transfers(name: str, *, lean: bool) -> None:
    constraints: list[sa.Constraint] = [
        sa.PrimaryKeyConstraint("transfer_id", name=op.f("pk_cycle_transfers"))
    ]
    if not lean:
        constraints += [
            sa.ForeignKeyConstraint(
                ["cycle_number"],
                ["clearing_cycles.cycle_number"],
                name=op.f("fk_cycle_transfers_cycle_number_clearing_cycles"),
            ),
            sa.ForeignKeyConstraint(
                ["transfer_id"],
                ["ledger_transfers.transfer_id"],
                name=op.f("fk_cycle_transfers_transfer_id_ledger_transfers"),
            ),
        ]
    op.create_table(
        name,
        sa.Column("transfer_id", sa.Uuid(), nullable=False),
        sa.Column("cycle_number", sa.Integer(), nullable=False),
        *constraints,
        sqlite_with_rowid=not lean,
    )


def _rebuild_sqlite_cycle_transfers(*, lean: bool) -> None:
    _cycle_transfers("_cycle_transfers_new", lean=lean)
    op.execute(
        "INSERT INTO _cycle_transfers_new (transfer_id, cycle_number) "
        "SELECT transfer_id, cycle_number FROM cycle_transfers"
    )
    if lean:
        op.drop_index(op.f("ix_cycle_transfers_cycle_number"), table_name="cycle_transfers")
    op.drop_table("cycle_transfers")
    op.rename_table("_cycle_transfers_new", "cycle_transfers")
    if not lean:
        op.create_index(
            op.f("ix_cycle_transfers_cycle_number"), "cycle_transfers", ["cycle_number"]
        )


def upgrade() -> None:
    op.create_index(op.f("ix_ledger_transfers_created_at"), "ledger_transfers", ["created_at"])
    op.add_column(
        "cycle_cut_offs",
        sa.Column(
            "cleared_through", clearing.storage._types.UTCDateTime(timezone=True), nullable=True
        ),
    )
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite_cycle_transfers(lean=True)
        return
    op.drop_constraint(
        op.f("fk_cycle_transfers_transfer_id_ledger_transfers"),
        "cycle_transfers",
        type_="foreignkey",
    )
    op.drop_constraint(
        op.f("fk_cycle_transfers_cycle_number_clearing_cycles"),
        "cycle_transfers",
        type_="foreignkey",
    )
    op.drop_index(op.f("ix_cycle_transfers_cycle_number"), table_name="cycle_transfers")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite_cycle_transfers(lean=False)
    else:
        op.create_index(
            op.f("ix_cycle_transfers_cycle_number"), "cycle_transfers", ["cycle_number"]
        )
        op.create_foreign_key(
            op.f("fk_cycle_transfers_cycle_number_clearing_cycles"),
            "cycle_transfers", "clearing_cycles", ["cycle_number"], ["cycle_number"],
        )  # fmt: skip
        op.create_foreign_key(
            op.f("fk_cycle_transfers_transfer_id_ledger_transfers"),
            "cycle_transfers", "ledger_transfers", ["transfer_id"], ["transfer_id"],
        )  # fmt: skip
    with op.batch_alter_table("cycle_cut_offs") as batch_op:
        batch_op.drop_column("cleared_through")
    op.drop_index(op.f("ix_ledger_transfers_created_at"), table_name="ledger_transfers")
