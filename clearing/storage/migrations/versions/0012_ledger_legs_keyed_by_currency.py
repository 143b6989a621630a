"""Each leg of a transfer refers to its account and the account's currency.

A transfer balances in every currency exactly when both its accounts hold
the transfer's currency. On SQLite a BEFORE INSERT trigger checked that with
two lookups per row on top of the two the foreign keys already made, and the
trigger program itself cost SQLite more than the lookups: about a third of
the ledger's insert rate. Here the foreign keys take the currency along,
``(debit_account_id, currency)`` and ``(credit_account_id, currency)`` to a
unique ``(account_id, currency)`` on ``ledger_accounts``: the same check, made
by the lookups SQLite did anyway. The trigger goes.

SQLite cannot add a constraint to a table, so ``ledger_transfers`` is built
again and its rows copied, as SQLite's documentation describes it (Database
runs SQLite migrations with foreign keys off and checks them all before the
commit). That copy is made once, at the first start of this version.

PostgreSQL is left as it is: its deferred constraint trigger checks the
transfers at commit.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-22 22:10:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACCOUNT_CURRENCY_INDEX = (
    "CREATE UNIQUE INDEX ix_ledger_accounts_account_id_currency "
    "ON ledger_accounts (account_id, currency)"
)
COLUMNS = (
    "transfer_id, debit_account_id, credit_account_id, amount, currency, code, user_data, "
    "created_at, flags, pending_id, timeout, expires_at"
)
LEG_KEYS = {
    "debit": "fk_ledger_transfers_debit_account_id_ledger_accounts",
    "credit": "fk_ledger_transfers_credit_account_id_ledger_accounts",
}


def _sqlite_table(name: str, legs_keyed_by_currency: bool) -> str:
    """``ledger_transfers`` as SQLite holds it, under ``name``."""
    pair = ", currency" if legs_keyed_by_currency else ""
    keys = ",\n".join(
        f"CONSTRAINT {constraint} FOREIGN KEY({leg}_account_id{pair}) "
        f"REFERENCES ledger_accounts (account_id{pair})"
        for leg, constraint in LEG_KEYS.items()
    )
    return f"""
    CREATE TABLE {name} (
        transfer_id CHAR(32) NOT NULL,
        debit_account_id CHAR(32) NOT NULL,
        credit_account_id CHAR(32) NOT NULL,
        amount BIGINT NOT NULL,
        currency VARCHAR(3) NOT NULL,
        code VARCHAR(32) NOT NULL,
        user_data VARCHAR(128) NOT NULL,
        created_at DATETIME NOT NULL,
        flags INTEGER DEFAULT '0' NOT NULL,
        pending_id CHAR(32),
        timeout INTEGER DEFAULT '0' NOT NULL,
        expires_at DATETIME,
        CONSTRAINT pk_ledger_transfers PRIMARY KEY (transfer_id),
        CONSTRAINT ck_ledger_transfers_amount_positive CHECK (amount > 0),
        CONSTRAINT ck_ledger_transfers_distinct_accounts
            CHECK (debit_account_id <> credit_account_id),
        {keys}
    )
    """


SQLITE_INDEXES = (
    "CREATE INDEX ix_ledger_transfers_debit_account_id ON ledger_transfers (debit_account_id)",
    "CREATE INDEX ix_ledger_transfers_credit_account_id ON ledger_transfers (credit_account_id)",
    "CREATE INDEX ix_ledger_transfers_user_data ON ledger_transfers (user_data)",
    "CREATE INDEX ix_ledger_transfers_created_at_transfer_id "
    "ON ledger_transfers (created_at, transfer_id)",
)
SQLITE_APPEND_ONLY = (
    """
    CREATE TRIGGER ledger_transfers_no_update BEFORE UPDATE ON ledger_transfers
    BEGIN SELECT RAISE(ABORT, 'ledger transfers are append-only'); END
    """,
    """
    CREATE TRIGGER ledger_transfers_no_delete BEFORE DELETE ON ledger_transfers
    BEGIN SELECT RAISE(ABORT, 'ledger transfers are append-only'); END
    """,
)
SQLITE_BALANCE_TRIGGER = """
    CREATE TRIGGER ledger_transfers_balanced BEFORE INSERT ON ledger_transfers
    WHEN (SELECT currency FROM ledger_accounts WHERE account_id = NEW.debit_account_id)
            IS NOT NEW.currency
      OR (SELECT currency FROM ledger_accounts WHERE account_id = NEW.credit_account_id)
            IS NOT NEW.currency
    BEGIN SELECT RAISE(ABORT, 'ledger transfer does not balance in its currency'); END
    """


def _rebuild_sqlite_transfers(legs_keyed_by_currency: bool) -> None:
    """SQLite's procedure for a change ALTER TABLE cannot make: a new table,
    the rows copied, the old one dropped, the new one renamed, then its
    indexes and triggers made again (dropping a table drops those)."""
    op.execute(_sqlite_table("ledger_transfers_rebuilt", legs_keyed_by_currency))
    op.execute(
        f"INSERT INTO ledger_transfers_rebuilt ({COLUMNS}) SELECT {COLUMNS} FROM ledger_transfers"
    )
    op.execute("DROP TABLE ledger_transfers")
    op.execute("ALTER TABLE ledger_transfers_rebuilt RENAME TO ledger_transfers")
    for statement in SQLITE_INDEXES + SQLITE_APPEND_ONLY:
        op.execute(statement)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(ACCOUNT_CURRENCY_INDEX)
        _rebuild_sqlite_transfers(legs_keyed_by_currency=True)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite_transfers(legs_keyed_by_currency=False)
        op.execute(SQLITE_BALANCE_TRIGGER)
        op.execute("DROP INDEX ix_ledger_accounts_account_id_currency")
