"""Fare postings of period re-pricing, and media proofs: card schemes, cards,
card debits and central ride-code replay checks.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 11:15:29.334805
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import clearing.storage._types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "card_schemes",
        sa.Column("issuer_id", sa.String(length=64), nullable=False),
        sa.Column("aid", sa.LargeBinary(length=16), nullable=False),
        sa.Column("system_identifier", sa.LargeBinary(length=31), nullable=False),
        sa.Column("master_key", sa.LargeBinary(length=16), nullable=False),
        sa.Column(
            "registered_at", clearing.storage._types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["issuer_id"],
            ["participants.participant_id"],
            name=op.f("fk_card_schemes_issuer_id_participants"),
        ),
        sa.PrimaryKeyConstraint("issuer_id", name=op.f("pk_card_schemes")),
    )
    op.create_table(
        "cards",
        sa.Column("medium_token", sa.String(length=128), nullable=False),
        sa.Column("card_uid", sa.LargeBinary(length=10), nullable=False),
        sa.Column(
            "registered_at", clearing.storage._types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["medium_token"], ["media.medium_token"], name=op.f("fk_cards_medium_token_media")
        ),
        sa.PrimaryKeyConstraint("medium_token", name=op.f("pk_cards")),
    )
    op.create_table(
        "card_debits",
        sa.Column("tap_id", sa.String(length=64), nullable=False),
        sa.Column("card_id", sa.String(length=128), nullable=False),
        sa.Column("counter", sa.BigInteger(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("balance_after_minor", sa.BigInteger(), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("tapped_at", clearing.storage._types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("mac", sa.LargeBinary(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["tap_id"], ["taps.tap_id"], name=op.f("fk_card_debits_tap_id_taps")
        ),
        sa.PrimaryKeyConstraint("tap_id", name=op.f("pk_card_debits")),
    )
    with op.batch_alter_table("card_debits", schema=None) as batch_op:
        batch_op.create_index("ix_card_debits_card_counter", ["card_id", "counter"], unique=False)

    op.create_table(
        "fare_charge_taps",
        sa.Column("charge_id", sa.String(length=64), nullable=False),
        sa.Column("tap_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["tap_id"], ["taps.tap_id"], name=op.f("fk_fare_charge_taps_tap_id_taps")
        ),
        sa.PrimaryKeyConstraint("charge_id", "tap_id", name=op.f("pk_fare_charge_taps")),
    )
    with op.batch_alter_table("fare_charge_taps", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_fare_charge_taps_tap_id"), ["tap_id"], unique=False)

    op.create_table(
        "fare_postings",
        sa.Column("transfer_id", sa.Uuid(), nullable=False),
        sa.Column("medium_token", sa.String(length=128), nullable=False),
        sa.Column("period", sa.String(length=32), nullable=False),
        sa.Column("charge_id", sa.String(length=64), nullable=False),
        sa.Column("operator_id", sa.String(length=64), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("posted_at", clearing.storage._types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["transfer_id"],
            ["ledger_transfers.transfer_id"],
            name=op.f("fk_fare_postings_transfer_id_ledger_transfers"),
        ),
        sa.PrimaryKeyConstraint("transfer_id", name=op.f("pk_fare_postings")),
    )
    with op.batch_alter_table("fare_postings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_fare_postings_charge_id"), ["charge_id"], unique=False)
        batch_op.create_index(
            "ix_fare_postings_medium_token_period", ["medium_token", "period"], unique=False
        )

    op.create_table(
        "ride_code_uses",
        sa.Column("issuer_id", sa.String(length=64), nullable=False),
        sa.Column("serial", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("counter", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("tap_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["tap_id"], ["taps.tap_id"], name=op.f("fk_ride_code_uses_tap_id_taps")
        ),
        sa.PrimaryKeyConstraint("issuer_id", "serial", "counter", name=op.f("pk_ride_code_uses")),
        sa.UniqueConstraint("tap_id", name=op.f("uq_ride_code_uses_tap_id")),
    )


def downgrade() -> None:
    op.drop_table("ride_code_uses")
    with op.batch_alter_table("fare_postings", schema=None) as batch_op:
        batch_op.drop_index("ix_fare_postings_medium_token_period")
        batch_op.drop_index(batch_op.f("ix_fare_postings_charge_id"))

    op.drop_table("fare_postings")
    with op.batch_alter_table("fare_charge_taps", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fare_charge_taps_tap_id"))

    op.drop_table("fare_charge_taps")
    with op.batch_alter_table("card_debits", schema=None) as batch_op:
        batch_op.drop_index("ix_card_debits_card_counter")

    op.drop_table("card_debits")
    op.drop_table("cards")
    op.drop_table("card_schemes")
