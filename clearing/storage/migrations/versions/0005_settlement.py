"""Settlement: cycle cut-offs, FX rates, clearing fees, settlement instructions,
agent top-ups and signed settlement reports. Only new tables: existing ones
(and their triggers) stay as they are.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 11:27:17.101624
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import clearing.storage._types

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "fx_rates",
        sa.Column("cycle_number", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("from_currency", sa.String(length=3), nullable=False),
        sa.Column("to_currency", sa.String(length=3), nullable=False),
        sa.Column("rate", sa.String(length=40), nullable=False),
        sa.Column(
            "published_at", clearing.storage._types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint(
            "cycle_number", "from_currency", "to_currency", name=op.f("pk_fx_rates")
        ),
    )
    op.create_table(
        "cycle_cut_offs",
        sa.Column("cycle_number", sa.Integer(), nullable=False),
        sa.Column("cut_off", clearing.storage._types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("settlement_count", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["cycle_number"],
            ["clearing_cycles.cycle_number"],
            name=op.f("fk_cycle_cut_offs_cycle_number_clearing_cycles"),
        ),
        sa.PrimaryKeyConstraint("cycle_number", name=op.f("pk_cycle_cut_offs")),
    )
    op.create_table(
        "cycle_fees",
        sa.Column("cycle_number", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.String(length=64), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("gross_fares", sa.BigInteger(), nullable=False),
        sa.Column("fare_count", sa.BigInteger(), nullable=False),
        sa.Column("basis_points", sa.Integer(), nullable=False),
        sa.Column("per_transaction_minor", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("transfer_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["cycle_number"],
            ["clearing_cycles.cycle_number"],
            name=op.f("fk_cycle_fees_cycle_number_clearing_cycles"),
        ),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participants.participant_id"],
            name=op.f("fk_cycle_fees_participant_id_participants"),
        ),
        sa.PrimaryKeyConstraint(
            "cycle_number", "participant_id", "currency", name=op.f("pk_cycle_fees")
        ),
    )
    op.create_table(
        "cycle_reports",
        sa.Column("cycle_number", sa.Integer(), nullable=False),
        sa.Column("report", sa.LargeBinary(), nullable=False),
        sa.Column("signature", sa.LargeBinary(length=64), nullable=False),
        sa.Column("created_at", clearing.storage._types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["cycle_number"],
            ["clearing_cycles.cycle_number"],
            name=op.f("fk_cycle_reports_cycle_number_clearing_cycles"),
        ),
        sa.PrimaryKeyConstraint("cycle_number", name=op.f("pk_cycle_reports")),
    )
    op.create_table(
        "fee_schedules",
        sa.Column("participant_id", sa.String(length=64), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("basis_points", sa.Integer(), nullable=False),
        sa.Column("per_transaction_minor", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", clearing.storage._types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "basis_points >= 0", name=op.f("ck_fee_schedules_basis_points_not_negative")
        ),
        sa.CheckConstraint(
            "per_transaction_minor >= 0", name=op.f("ck_fee_schedules_per_transaction_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participants.participant_id"],
            name=op.f("fk_fee_schedules_participant_id_participants"),
        ),
        sa.PrimaryKeyConstraint("participant_id", "currency", name=op.f("pk_fee_schedules")),
    )
    op.create_table(
        "agent_top_ups",
        sa.Column("operator_id", sa.String(length=64), nullable=False),
        sa.Column("top_up_id", sa.String(length=64), nullable=False),
        sa.Column("medium_token", sa.String(length=128), nullable=False),
        sa.Column("issuer_id", sa.String(length=64), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("transfer_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", clearing.storage._types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_agent_top_ups_amount_positive")),
        sa.ForeignKeyConstraint(
            ["issuer_id"],
            ["participants.participant_id"],
            name=op.f("fk_agent_top_ups_issuer_id_participants"),
        ),
        sa.ForeignKeyConstraint(
            ["medium_token"],
            ["media.medium_token"],
            name=op.f("fk_agent_top_ups_medium_token_media"),
        ),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["participants.participant_id"],
            name=op.f("fk_agent_top_ups_operator_id_participants"),
        ),
        sa.ForeignKeyConstraint(
            ["transfer_id"],
            ["ledger_transfers.transfer_id"],
            name=op.f("fk_agent_top_ups_transfer_id_ledger_transfers"),
        ),
        sa.PrimaryKeyConstraint("operator_id", "top_up_id", name=op.f("pk_agent_top_ups")),
        sa.UniqueConstraint("transfer_id", name=op.f("uq_agent_top_ups_transfer_id")),
    )
    op.create_table(
        "cycle_instructions",
        sa.Column("cycle_number", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.String(length=64), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("transfer_id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "direction IN ('pay_in', 'pay_out')", name=op.f("ck_cycle_instructions_known_direction")
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_cycle_instructions_amount_positive")),
        sa.ForeignKeyConstraint(
            ["cycle_number"],
            ["clearing_cycles.cycle_number"],
            name=op.f("fk_cycle_instructions_cycle_number_clearing_cycles"),
        ),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participants.participant_id"],
            name=op.f("fk_cycle_instructions_participant_id_participants"),
        ),
        sa.ForeignKeyConstraint(
            ["transfer_id"],
            ["ledger_transfers.transfer_id"],
            name=op.f("fk_cycle_instructions_transfer_id_ledger_transfers"),
        ),
        sa.PrimaryKeyConstraint(
            "cycle_number", "participant_id", "currency", name=op.f("pk_cycle_instructions")
        ),
        sa.UniqueConstraint("transfer_id", name=op.f("uq_cycle_instructions_transfer_id")),
    )


def downgrade() -> None:
    op.drop_table("cycle_instructions")
    op.drop_table("agent_top_ups")
    op.drop_table("fee_schedules")
    op.drop_table("cycle_reports")
    op.drop_table("cycle_fees")
    op.drop_table("cycle_cut_offs")
    op.drop_table("fx_rates")
