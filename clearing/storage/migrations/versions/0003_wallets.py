"""Wallet providers: rider accounts, the proxy directory, top-ups, virtual
cards, ride credentials with the issuers' credential keys, and the versioned
deny list.

Only new tables: the ledger's tables (and their triggers) are untouched.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import clearing.storage._types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = clearing.storage._types.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "deny_list_changes",
        sa.Column("version", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("issuer_id", sa.String(length=64), nullable=False),
        sa.Column("medium_token", sa.String(length=128), nullable=True),
        sa.Column("serial", sa.BigInteger(), nullable=True),
        sa.Column("action", sa.String(length=8), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("changed_at", UTC_DATETIME, nullable=False),
        sa.CheckConstraint(
            "action IN ('block', 'unblock')", name=op.f("ck_deny_list_changes_known_action")
        ),
        sa.CheckConstraint(
            "(medium_token IS NULL) <> (serial IS NULL)",
            name=op.f("ck_deny_list_changes_one_target"),
        ),
        sa.ForeignKeyConstraint(
            ["issuer_id"],
            ["participants.participant_id"],
            name=op.f("fk_deny_list_changes_issuer_id_participants"),
        ),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_deny_list_changes")),
    )
    op.create_index(
        "ix_deny_list_changes_credential",
        "deny_list_changes",
        ["issuer_id", "serial"],
        unique=False,
    )
    op.create_index(
        op.f("ix_deny_list_changes_medium_token"),
        "deny_list_changes",
        ["medium_token"],
        unique=False,
    )
    op.create_table(
        "issuer_credential_keys",
        sa.Column("issuer_id", sa.String(length=64), nullable=False),
        sa.Column("private_key_pem", sa.Text(), nullable=False),
        sa.Column("public_key", sa.LargeBinary(length=32), nullable=False),
        sa.Column("trust_list_version", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["issuer_id"],
            ["participants.participant_id"],
            name=op.f("fk_issuer_credential_keys_issuer_id_participants"),
        ),
        sa.PrimaryKeyConstraint("issuer_id", name=op.f("pk_issuer_credential_keys")),
        sa.UniqueConstraint(
            "trust_list_version", name=op.f("uq_issuer_credential_keys_trust_list_version")
        ),
    )
    op.create_table(
        "wallet_accounts",
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("issuer_id", sa.String(length=64), nullable=False),
        sa.Column("rider_category", sa.String(length=16), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("medium_token", sa.String(length=128), nullable=False),
        sa.Column("opened_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["issuer_id"],
            ["participants.participant_id"],
            name=op.f("fk_wallet_accounts_issuer_id_participants"),
        ),
        sa.ForeignKeyConstraint(
            ["medium_token"],
            ["media.medium_token"],
            name=op.f("fk_wallet_accounts_medium_token_media"),
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_wallet_accounts")),
        sa.UniqueConstraint("medium_token", name=op.f("uq_wallet_accounts_medium_token")),
    )
    op.create_index(
        op.f("ix_wallet_accounts_issuer_id"), "wallet_accounts", ["issuer_id"], unique=False
    )
    op.create_table(
        "ride_credentials",
        sa.Column("issuer_id", sa.String(length=64), nullable=False),
        sa.Column("serial", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("rider_public_key", sa.LargeBinary(length=32), nullable=False),
        sa.Column("expires_at", UTC_DATETIME, nullable=False),
        sa.Column("credential", sa.LargeBinary(length=512), nullable=False),
        sa.Column("issued_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["wallet_accounts.account_id"],
            name=op.f("fk_ride_credentials_account_id_wallet_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["issuer_id"],
            ["participants.participant_id"],
            name=op.f("fk_ride_credentials_issuer_id_participants"),
        ),
        sa.PrimaryKeyConstraint("issuer_id", "serial", name=op.f("pk_ride_credentials")),
    )
    op.create_index(
        op.f("ix_ride_credentials_account_id"), "ride_credentials", ["account_id"], unique=False
    )
    op.create_table(
        "wallet_proxies",
        sa.Column("proxy_type", sa.String(length=8), nullable=False),
        sa.Column("proxy_value", sa.String(length=254), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("linked_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["wallet_accounts.account_id"],
            name=op.f("fk_wallet_proxies_account_id_wallet_accounts"),
        ),
        sa.PrimaryKeyConstraint("proxy_type", "proxy_value", name=op.f("pk_wallet_proxies")),
    )
    op.create_index(
        op.f("ix_wallet_proxies_account_id"), "wallet_proxies", ["account_id"], unique=False
    )
    op.create_table(
        "wallet_top_ups",
        sa.Column("issuer_id", sa.String(length=64), nullable=False),
        sa.Column("top_up_id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("card_id", sa.String(length=64), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("transfer_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_wallet_top_ups_amount_positive")),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["wallet_accounts.account_id"],
            name=op.f("fk_wallet_top_ups_account_id_wallet_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["issuer_id"],
            ["participants.participant_id"],
            name=op.f("fk_wallet_top_ups_issuer_id_participants"),
        ),
        sa.PrimaryKeyConstraint("issuer_id", "top_up_id", name=op.f("pk_wallet_top_ups")),
        sa.UniqueConstraint("transfer_id", name=op.f("uq_wallet_top_ups_transfer_id")),
    )
    op.create_index(
        op.f("ix_wallet_top_ups_account_id"), "wallet_top_ups", ["account_id"], unique=False
    )
    op.create_table(
        "wallet_virtual_cards",
        sa.Column("issuer_id", sa.String(length=64), nullable=False),
        sa.Column("card_id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("medium_token", sa.String(length=128), nullable=False),
        sa.Column("uid_hex", sa.String(length=32), nullable=False),
        sa.Column("provisioned_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["wallet_accounts.account_id"],
            name=op.f("fk_wallet_virtual_cards_account_id_wallet_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["issuer_id"],
            ["participants.participant_id"],
            name=op.f("fk_wallet_virtual_cards_issuer_id_participants"),
        ),
        sa.ForeignKeyConstraint(
            ["medium_token"],
            ["media.medium_token"],
            name=op.f("fk_wallet_virtual_cards_medium_token_media"),
        ),
        sa.PrimaryKeyConstraint("issuer_id", "card_id", name=op.f("pk_wallet_virtual_cards")),
        sa.UniqueConstraint("medium_token", name=op.f("uq_wallet_virtual_cards_medium_token")),
    )
    op.create_index(
        op.f("ix_wallet_virtual_cards_account_id"),
        "wallet_virtual_cards",
        ["account_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_wallet_virtual_cards_account_id"), table_name="wallet_virtual_cards")
    op.drop_table("wallet_virtual_cards")
    op.drop_index(op.f("ix_wallet_top_ups_account_id"), table_name="wallet_top_ups")
    op.drop_table("wallet_top_ups")
    op.drop_index(op.f("ix_wallet_proxies_account_id"), table_name="wallet_proxies")
    op.drop_table("wallet_proxies")
    op.drop_index(op.f("ix_ride_credentials_account_id"), table_name="ride_credentials")
    op.drop_table("ride_credentials")
    op.drop_index(op.f("ix_wallet_accounts_issuer_id"), table_name="wallet_accounts")
    op.drop_table("wallet_accounts")
    op.drop_table("issuer_credential_keys")
    op.drop_index(op.f("ix_deny_list_changes_medium_token"), table_name="deny_list_changes")
    op.drop_index("ix_deny_list_changes_credential", table_name="deny_list_changes")
    op.drop_table("deny_list_changes")
