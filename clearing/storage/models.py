"""Table definitions. Store logic lives beside them, never inside them.

Every money column is an integer count of minor units with its ISO 4217
currency beside it. Rows on the tap path are only ever inserted: there is no
counter or balance row that every tap must update, so ingest scales out.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TypeVar

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Text,
    Uuid,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from clearing.storage._types import UTCDateTime

# Explicit constraint names keep migrations identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SchemaItemT = TypeVar("SchemaItemT", Index, ForeignKeyConstraint)


def only_on(dialect: str, schema_item: SchemaItemT) -> SchemaItemT:
    """``schema_item`` exists on ``dialect`` alone: created there only, and
    compared with the database there only (see ``exists_on``)."""
    schema_item.info["only_on"] = dialect
    schema_item.ddl_if(dialect=dialect)
    return schema_item


def exists_on(schema_item: object, dialect: str) -> bool:
    """Whether a model's table, index or constraint exists on ``dialect``."""
    info: dict[str, object] = getattr(schema_item, "info", {})
    return info.get("only_on", dialect) == dialect


ID = String(64)
CURRENCY = String(3)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class ParticipantRow(Base):
    """A party to clearing; ``participant_id`` is its certificate's common name."""

    __tablename__ = "participants"

    participant_id: Mapped[str] = mapped_column(ID, primary_key=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    settlement_currency: Mapped[str] = mapped_column(CURRENCY)
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DeviceRow(Base):
    """A reader, the key that signs its batches, and where it stands."""

    __tablename__ = "devices"

    device_id: Mapped[str] = mapped_column(ID, primary_key=True)
    operator_id: Mapped[str] = mapped_column(ForeignKey("participants.participant_id"), index=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    stop_id: Mapped[str] = mapped_column(String(128))
    mode: Mapped[str] = mapped_column(String(16))
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime())


class MediumRow(Base):
    """A card, wallet or credential token and the issuer that stands behind it."""

    __tablename__ = "media"

    medium_token: Mapped[str] = mapped_column(String(128), primary_key=True)
    issuer_id: Mapped[str] = mapped_column(ForeignKey("participants.participant_id"), index=True)
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime())


class FlatFareRow(Base):
    """The fare an operator charges at tap-on for one mode."""

    __tablename__ = "flat_fares"
    __table_args__ = (CheckConstraint("amount_minor >= 0", name="amount_not_negative"),)

    operator_id: Mapped[str] = mapped_column(
        ForeignKey("participants.participant_id"), primary_key=True
    )
    mode: Mapped[str] = mapped_column(String(16), primary_key=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(CURRENCY)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TapRow(Base):
    """The tap journal: every accepted tap, exactly once, never edited.

    ``content_digest`` is a SHA-256 over the tap's canonical fields, so a
    retried tap id can be told apart from a conflicting reuse in one lookup.
    """

    __tablename__ = "taps"
    __table_args__ = (
        Index("ix_taps_device_sequence", "device_id", "device_sequence"),
        # On SQLite a medium's taps are found through sorted runs instead
        # (clearing/storage/_runs.py).
        only_on("postgresql", Index("ix_taps_medium_token", "medium_token")),
    )

    tap_id: Mapped[str] = mapped_column(ID, primary_key=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.device_id"))
    operator_id: Mapped[str] = mapped_column(ID)
    device_sequence: Mapped[int] = mapped_column(BigInteger)
    tapped_at: Mapped[datetime] = mapped_column(UTCDateTime())
    medium_token: Mapped[str] = mapped_column(String(128))
    direction: Mapped[str] = mapped_column(String(8))
    batch_id: Mapped[str] = mapped_column(ID)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    content_digest: Mapped[bytes] = mapped_column(LargeBinary(32))


class UnpricedTapRow(Base):
    """A stored tap that produced no charge, and why (never a silent zero)."""

    __tablename__ = "unpriced_taps"

    tap_id: Mapped[str] = mapped_column(ForeignKey("taps.tap_id"), primary_key=True)
    reason: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(String(400))


class LedgerAccountRow(Base):
    """A ledger account, owned by one participant, in one currency.

    Rider accounts carry the medium token they fund; participant-level
    accounts (fare revenue) leave it empty.
    """

    __tablename__ = "ledger_accounts"
    __table_args__ = (
        # What each leg of a transfer refers to on SQLite (see LedgerTransferRow).
        only_on(
            "sqlite",
            Index("ix_ledger_accounts_account_id_currency", "account_id", "currency", unique=True),
        ),
    )

    account_id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    participant_id: Mapped[str] = mapped_column(
        ForeignKey("participants.participant_id"), index=True
    )
    currency: Mapped[str] = mapped_column(CURRENCY)
    code: Mapped[str] = mapped_column(String(32))
    medium_token: Mapped[str | None] = mapped_column(String(128))
    flags: Mapped[int] = mapped_column(Integer, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


def _leg_keys(leg: str) -> tuple[ForeignKeyConstraint, ForeignKeyConstraint]:
    """The foreign key of a transfer's ``leg`` ("debit" or "credit").

    The ledger's invariant is that a set of transfers balances in every
    currency, which holds exactly when each transfer's two accounts are in
    the transfer's currency. On PostgreSQL a deferred constraint trigger
    checks that at commit (migration 0002). On SQLite the key itself carries
    the currency, to the unique ``(account_id, currency)`` of the account: the
    lookup SQLite makes for the key anyway is the check (migration 0012).
    """
    column, referred = f"{leg}_account_id", "ledger_accounts.account_id"
    return (
        only_on("postgresql", ForeignKeyConstraint([column], [referred])),
        only_on(
            "sqlite",
            ForeignKeyConstraint([column, "currency"], [referred, "ledger_accounts.currency"]),
        ),
    )


class LedgerTransferRow(Base):
    """One committed transfer of the ledger contract (see clearing/ledger).

    Append-only: the database refuses updates and deletes, and refuses a row
    whose accounts are not both in the transfer's currency (its foreign keys
    carry the currency). ``flags`` holds
    TigerBeetle's bits: pending (2) and void (8) transfers move no posted
    money; single-phase transfers and posts (4) do.
    """

    __tablename__ = "ledger_transfers"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("debit_account_id <> credit_account_id", name="distinct_accounts"),
        # The Merkle log's leaf order; also serves ranges of created_at.
        Index("ix_ledger_transfers_created_at_transfer_id", "created_at", "transfer_id"),
        # On SQLite balances come from folded totals instead, and only
        # pending debits are indexed (clearing/ledger/_totals.py).
        only_on("postgresql", Index("ix_ledger_transfers_debit_account_id", "debit_account_id")),
        only_on(
            "sqlite",
            Index(
                "ix_ledger_transfers_pending_debit",
                "debit_account_id",
                sqlite_where=text("(flags & 2) != 0"),
            ),
        ),
        *_leg_keys("debit"),
        *_leg_keys("credit"),
    )

    transfer_id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    debit_account_id: Mapped[uuid.UUID] = mapped_column(Uuid())
    credit_account_id: Mapped[uuid.UUID] = mapped_column(Uuid(), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(CURRENCY)
    code: Mapped[str] = mapped_column(String(32))
    user_data: Mapped[str] = mapped_column(String(128), index=True)
    flags: Mapped[int] = mapped_column(Integer, server_default="0")
    pending_id: Mapped[uuid.UUID | None] = mapped_column(Uuid())
    timeout: Mapped[int] = mapped_column(Integer, server_default="0")
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class IndexRunRow(Base):
    """One sorted run of a deferred index on SQLite (clearing/storage/_runs.py):
    the keys of the source table's rows ``first_rowid`` to ``last_rowid``.
    ``merging_into`` names the run its entries are moving to, during a merge.
    """

    __tablename__ = "index_runs"

    run: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    index_name: Mapped[str] = mapped_column(String(64))
    level: Mapped[int] = mapped_column(Integer)
    first_rowid: Mapped[int] = mapped_column(BigInteger)
    last_rowid: Mapped[int] = mapped_column(BigInteger)
    merging_into: Mapped[int | None] = mapped_column(BigInteger)


class IndexRunEntryRow(Base):
    """A key of a deferred index and the rowid of the source row holding it,
    within one run. Runs are contiguous, sorted stretches of this table."""

    __tablename__ = "index_run_entries"
    __table_args__ = ({"sqlite_with_rowid": False},)

    run: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    source_rowid: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)


class LedgerAccountTotalRow(Base):
    """An account's posted debits and credits over the transfers up to
    ``ledger_totals_through`` (SQLite; see clearing/ledger/_totals.py)."""

    __tablename__ = "ledger_account_totals"

    account_id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    debits_posted: Mapped[int] = mapped_column(BigInteger)
    credits_posted: Mapped[int] = mapped_column(BigInteger)


class LedgerTotalsThroughRow(Base):
    """The last rowid of ``ledger_transfers`` that the totals hold (one row)."""

    __tablename__ = "ledger_totals_through"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_rowid: Mapped[int] = mapped_column(BigInteger)


class LedgerHorizonRow(Base):
    """The instant at or before which the ledger creates no more transfers
    (one row, once a horizon is set). A posting whose clock is behind it is
    stamped just after it; clearing cycles advance it to their cut-offs."""

    __tablename__ = "ledger_horizon"
    __table_args__ = (CheckConstraint("singleton = 1", name="one_row"),)

    singleton: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    horizon: Mapped[datetime] = mapped_column(UTCDateTime())


class LedgerFailureRow(Base):
    """A transfer id that failed because of the ledger's state (for example
    exceeds_credits). It stays failed: a retry answers id_already_failed."""

    __tablename__ = "ledger_failures"

    transfer_id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    result: Mapped[str] = mapped_column(String(64))
    failed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PendingResolutionRow(Base):
    """How a pending transfer ended. The primary key is what makes a pending
    transfer resolve at most once, even under concurrent posts and voids."""

    __tablename__ = "ledger_pending_resolutions"

    pending_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("ledger_transfers.transfer_id"), primary_key=True
    )
    state: Mapped[str] = mapped_column(String(16))
    resolved_by: Mapped[uuid.UUID | None] = mapped_column(Uuid())
    resolved_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LedgerLogRow(Base):
    """The Merkle log: each committed transfer's position and leaf hash.

    Filled by the log sequencer after commit, never on the tap path.
    """

    __tablename__ = "ledger_log"

    leaf_index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    transfer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("ledger_transfers.transfer_id"), unique=True
    )
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class LedgerLogNodeRow(Base):
    """The root of a perfect subtree of the Merkle log at a stored level:
    the 2^level leaves from ``node_index << level``. Derived from the leaves
    by the sequencer, so that proofs read O(log n) hashes
    (``clearing/ledger/_tree.py``)."""

    __tablename__ = "ledger_log_nodes"

    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    node_index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    node_hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class LedgerCheckpointRow(Base):
    """A signed tree head (C2SP checkpoint) of the Merkle log."""

    __tablename__ = "ledger_checkpoints"

    tree_size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    signed_note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Every transfer created at or before this instant was logged when this
    # head was signed: the next sequencing starts after it (see _log.py).
    logged_through: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ClearingCycleRow(Base):
    """A closed clearing cycle. ``close_id`` makes closing idempotent."""

    __tablename__ = "clearing_cycles"

    cycle_number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    close_id: Mapped[str] = mapped_column(ID, unique=True)
    closed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    transfer_count: Mapped[int] = mapped_column(BigInteger)


class CycleTransferRow(Base):
    """Membership of a transfer in the cycle that cleared it. The primary key
    on ``transfer_id`` is what guarantees a transfer is cleared exactly once.

    Lean on purpose (a close inserts one row per transfer it clears): no
    foreign keys, no index on the cycle, and no rowid on SQLite. Its ids come
    from ``ledger_transfers`` in the claiming statement, or were just posted,
    and the ledger refuses deletes.
    """

    __tablename__ = "cycle_transfers"
    __table_args__ = ({"sqlite_with_rowid": False},)

    transfer_id: Mapped[uuid.UUID] = mapped_column(Uuid(), primary_key=True)
    cycle_number: Mapped[int] = mapped_column(Integer)


class CyclePositionRow(Base):
    """A participant's gross and net position in one currency for one cycle."""

    __tablename__ = "cycle_positions"

    cycle_number: Mapped[int] = mapped_column(
        ForeignKey("clearing_cycles.cycle_number"), primary_key=True
    )
    participant_id: Mapped[str] = mapped_column(
        ForeignKey("participants.participant_id"), primary_key=True
    )
    currency: Mapped[str] = mapped_column(CURRENCY, primary_key=True)
    gross_credit: Mapped[int] = mapped_column(BigInteger)
    gross_debit: Mapped[int] = mapped_column(BigInteger)
    net: Mapped[int] = mapped_column(BigInteger)


class WalletAccountRow(Base):
    """A rider's account at a wallet provider. ``account_id`` is the
    provider's idempotency key, unique across providers so that a proxy
    resolves to one account id; ``medium_token`` is derived from it and is
    what taps and ride codes carry, registered as the provider's medium."""

    __tablename__ = "wallet_accounts"

    account_id: Mapped[str] = mapped_column(ID, primary_key=True)
    issuer_id: Mapped[str] = mapped_column(ForeignKey("participants.participant_id"), index=True)
    rider_category: Mapped[str] = mapped_column(String(16))
    currency: Mapped[str] = mapped_column(CURRENCY)
    medium_token: Mapped[str] = mapped_column(ForeignKey("media.medium_token"), unique=True)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())


class WalletProxyRow(Base):
    """The central proxy directory: the primary key makes a phone number or
    e-mail address name at most one account across all wallet providers."""

    __tablename__ = "wallet_proxies"

    proxy_type: Mapped[str] = mapped_column(String(8), primary_key=True)
    proxy_value: Mapped[str] = mapped_column(String(254), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("wallet_accounts.account_id"), index=True)
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime())


class VirtualCardRow(Base):
    """A stored-value card provisioned on a rider's phone; its value is the
    ledger's rider-funds account of its own ``medium_token``."""

    __tablename__ = "wallet_virtual_cards"

    issuer_id: Mapped[str] = mapped_column(
        ForeignKey("participants.participant_id"), primary_key=True
    )
    card_id: Mapped[str] = mapped_column(ID, primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("wallet_accounts.account_id"), index=True)
    medium_token: Mapped[str] = mapped_column(ForeignKey("media.medium_token"), unique=True)
    uid_hex: Mapped[str] = mapped_column(String(32))
    provisioned_at: Mapped[datetime] = mapped_column(UTCDateTime())


class WalletTopUpRow(Base):
    """A top-up under the provider's idempotency key, with the content a
    replay is compared against and the ledger transfer it posted."""

    __tablename__ = "wallet_top_ups"
    __table_args__ = (CheckConstraint("amount_minor > 0", name="amount_positive"),)

    issuer_id: Mapped[str] = mapped_column(
        ForeignKey("participants.participant_id"), primary_key=True
    )
    top_up_id: Mapped[str] = mapped_column(ID, primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("wallet_accounts.account_id"), index=True)
    card_id: Mapped[str] = mapped_column(ID)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(CURRENCY)
    source: Mapped[str] = mapped_column(ID)
    transfer_id: Mapped[uuid.UUID] = mapped_column(Uuid(), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class IssuerCredentialKeyRow(Base):
    """The Ed25519 key the clearing house signs one issuer's ride credentials
    with, created on first use. Held here as PEM for the embedded and test
    deployments; a production clearing house keeps these keys in an HSM and
    stores only the public half and a key handle.

    ``trust_list_version`` is the trust list version that first carried the
    key: each new key raises the version by one.
    """

    __tablename__ = "issuer_credential_keys"

    issuer_id: Mapped[str] = mapped_column(
        ForeignKey("participants.participant_id"), primary_key=True
    )
    private_key_pem: Mapped[str] = mapped_column(Text)
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    trust_list_version: Mapped[int] = mapped_column(BigInteger, unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RideCredentialRow(Base):
    """A ride credential as issued, kept whole so a retried issue answers the
    very same bytes and a serial can be blocked."""

    __tablename__ = "ride_credentials"

    issuer_id: Mapped[str] = mapped_column(
        ForeignKey("participants.participant_id"), primary_key=True
    )
    serial: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    account_id: Mapped[str] = mapped_column(ForeignKey("wallet_accounts.account_id"), index=True)
    rider_public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    credential: Mapped[bytes] = mapped_column(LargeBinary(512))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DenyListChangeRow(Base):
    """One change of the deny list: a block or unblock of a medium token or
    of one credential. ``version`` is the deny list's version after the
    change; its primary key makes versions gapless and never reused.

    Exactly one of ``medium_token`` and ``serial`` is set; ``serial`` is a
    credential of ``issuer_id``, the provider that asked for the change.
    """

    __tablename__ = "deny_list_changes"
    __table_args__ = (
        CheckConstraint("(medium_token IS NULL) <> (serial IS NULL)", name="one_target"),
        CheckConstraint("action IN ('block', 'unblock')", name="known_action"),
        Index("ix_deny_list_changes_credential", "issuer_id", "serial"),
    )

    version: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    issuer_id: Mapped[str] = mapped_column(ForeignKey("participants.participant_id"))
    medium_token: Mapped[str | None] = mapped_column(String(128), index=True)
    serial: Mapped[int | None] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str] = mapped_column(String(200))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class FarePostingRow(Base):
    """What a rider's capping period has received, per charge and operator:
    one row per ledger transfer the re-pricing posted (``amount`` is negative
    for a refund). Their sums are the 'before' of the next re-pricing."""

    __tablename__ = "fare_postings"
    __table_args__ = (Index("ix_fare_postings_medium_token_period", "medium_token", "period"),)

    transfer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("ledger_transfers.transfer_id"), primary_key=True
    )
    medium_token: Mapped[str] = mapped_column(String(128))
    period: Mapped[str] = mapped_column(String(32))
    charge_id: Mapped[str] = mapped_column(String(64), index=True)
    operator_id: Mapped[str] = mapped_column(ID)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(CURRENCY)
    posted_at: Mapped[datetime] = mapped_column(UTCDateTime())


class FareChargeTapRow(Base):
    """Which taps a charge covers, so every charge traces to its taps."""

    __tablename__ = "fare_charge_taps"

    charge_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tap_id: Mapped[str] = mapped_column(ForeignKey("taps.tap_id"), primary_key=True, index=True)


class CardSchemeRow(Base):
    """How an issuer diversifies its stored-value cards' keys (NXP AN10922).
    Clearing holds the master key only to verify debit MACs."""

    __tablename__ = "card_schemes"

    issuer_id: Mapped[str] = mapped_column(
        ForeignKey("participants.participant_id"), primary_key=True
    )
    aid: Mapped[bytes] = mapped_column(LargeBinary(16))
    system_identifier: Mapped[bytes] = mapped_column(LargeBinary(31))
    master_key: Mapped[bytes] = mapped_column(LargeBinary(16))
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CardRow(Base):
    """A stored-value card: the medium token it is known by and its UID,
    from which its key is diversified."""

    __tablename__ = "cards"

    medium_token: Mapped[str] = mapped_column(ForeignKey("media.medium_token"), primary_key=True)
    card_uid: Mapped[bytes] = mapped_column(LargeBinary(10))
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CardDebitRow(Base):
    """A verified card debit record, as the tap carried it: the evidence of
    each card's counter and balance chain."""

    __tablename__ = "card_debits"
    __table_args__ = (Index("ix_card_debits_card_counter", "card_id", "counter"),)

    tap_id: Mapped[str] = mapped_column(ForeignKey("taps.tap_id"), primary_key=True)
    card_id: Mapped[str] = mapped_column(String(128))
    counter: Mapped[int] = mapped_column(BigInteger)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    balance_after_minor: Mapped[int] = mapped_column(BigInteger)
    device_id: Mapped[str] = mapped_column(ID)
    tapped_at: Mapped[datetime] = mapped_column(UTCDateTime())
    mac: Mapped[bytes] = mapped_column(LargeBinary(16))


class RideCodeUseRow(Base):
    """A ride code used in a tap. The primary key is the central replay
    check: one (issuer, credential serial, counter) in one tap, ever."""

    __tablename__ = "ride_code_uses"

    issuer_id: Mapped[str] = mapped_column(ID, primary_key=True)
    serial: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    counter: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    tap_id: Mapped[str] = mapped_column(ForeignKey("taps.tap_id"), unique=True)


class CycleCutOffRow(Base):
    """When a closed cycle ends: it cleared the transfers committed up to
    ``cut_off`` (and not cleared before), plus its own fee and settlement
    transfers. ``settlement_count`` counts the latter; ``cleared_through``
    bounds what the next close must check against earlier claims."""

    __tablename__ = "cycle_cut_offs"

    cycle_number: Mapped[int] = mapped_column(
        ForeignKey("clearing_cycles.cycle_number"), primary_key=True
    )
    cut_off: Mapped[datetime] = mapped_column(UTCDateTime())
    settlement_count: Mapped[int] = mapped_column(BigInteger)
    cleared_through: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """No transfer created after this instant was cleared by this cycle or an
    earlier one: since the ledger's horizon, the cut-off itself (before it,
    the later of the cut-offs and the closes' own postings); None for cycles
    closed before it was recorded."""


class FxRateRow(Base):
    """A rate the clearing house published for one cycle: one major unit of
    ``from_currency`` is worth ``rate`` (an exact decimal text) major units of
    ``to_currency``. It stays in force until a later cycle publishes another."""

    __tablename__ = "fx_rates"

    cycle_number: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    from_currency: Mapped[str] = mapped_column(CURRENCY, primary_key=True)
    to_currency: Mapped[str] = mapped_column(CURRENCY, primary_key=True)
    rate: Mapped[str] = mapped_column(String(40))
    published_at: Mapped[datetime] = mapped_column(UTCDateTime())


class FeeScheduleRow(Base):
    """What the clearing house charges one participant per cycle in one
    currency: basis points of its gross fares plus a fee per fare transfer."""

    __tablename__ = "fee_schedules"
    __table_args__ = (
        CheckConstraint("basis_points >= 0", name="basis_points_not_negative"),
        CheckConstraint("per_transaction_minor >= 0", name="per_transaction_not_negative"),
    )

    participant_id: Mapped[str] = mapped_column(
        ForeignKey("participants.participant_id"), primary_key=True
    )
    currency: Mapped[str] = mapped_column(CURRENCY, primary_key=True)
    basis_points: Mapped[int] = mapped_column(Integer)
    per_transaction_minor: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CycleFeeRow(Base):
    """The clearing fee one participant was charged in one cycle and currency
    (``amount`` negative for a refund), with the basis it was computed from."""

    __tablename__ = "cycle_fees"

    cycle_number: Mapped[int] = mapped_column(
        ForeignKey("clearing_cycles.cycle_number"), primary_key=True
    )
    participant_id: Mapped[str] = mapped_column(
        ForeignKey("participants.participant_id"), primary_key=True
    )
    currency: Mapped[str] = mapped_column(CURRENCY, primary_key=True)
    gross_fares: Mapped[int] = mapped_column(BigInteger)
    fare_count: Mapped[int] = mapped_column(BigInteger)
    basis_points: Mapped[int] = mapped_column(Integer)
    per_transaction_minor: Mapped[int] = mapped_column(BigInteger)
    amount: Mapped[int] = mapped_column(BigInteger)
    transfer_id: Mapped[uuid.UUID | None] = mapped_column(Uuid())


class CycleInstructionRow(Base):
    """A settlement instruction of a closed cycle: the participant pays
    ``amount`` into the clearing house's settlement account, or is paid it."""

    __tablename__ = "cycle_instructions"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("direction IN ('pay_in', 'pay_out')", name="known_direction"),
    )

    cycle_number: Mapped[int] = mapped_column(
        ForeignKey("clearing_cycles.cycle_number"), primary_key=True
    )
    participant_id: Mapped[str] = mapped_column(
        ForeignKey("participants.participant_id"), primary_key=True
    )
    currency: Mapped[str] = mapped_column(CURRENCY, primary_key=True)
    direction: Mapped[str] = mapped_column(String(8))
    amount: Mapped[int] = mapped_column(BigInteger)
    transfer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("ledger_transfers.transfer_id"), unique=True
    )


class AgentTopUpRow(Base):
    """Cash an operator's ticket machine took to top up an issuer's rider,
    under the operator's idempotency key, with the transfer it posted."""

    __tablename__ = "agent_top_ups"
    __table_args__ = (CheckConstraint("amount_minor > 0", name="amount_positive"),)

    operator_id: Mapped[str] = mapped_column(
        ForeignKey("participants.participant_id"), primary_key=True
    )
    top_up_id: Mapped[str] = mapped_column(ID, primary_key=True)
    medium_token: Mapped[str] = mapped_column(ForeignKey("media.medium_token"))
    issuer_id: Mapped[str] = mapped_column(ForeignKey("participants.participant_id"))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(CURRENCY)
    transfer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("ledger_transfers.transfer_id"), unique=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CycleReportRow(Base):
    """A cycle's signed settlement report: the exact serialized bytes that
    were signed, and the clearing house's Ed25519 signature over them."""

    __tablename__ = "cycle_reports"

    cycle_number: Mapped[int] = mapped_column(
        ForeignKey("clearing_cycles.cycle_number"), primary_key=True
    )
    report: Mapped[bytes] = mapped_column(LargeBinary)
    signature: Mapped[bytes] = mapped_column(LargeBinary(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AuditorScopeRow(Base):
    """A participant an auditor is entitled to see. An auditor with no rows
    here audits the whole clearing house."""

    __tablename__ = "auditor_scopes"

    auditor_id: Mapped[str] = mapped_column(
        ForeignKey("participants.participant_id"), primary_key=True
    )
    participant_id: Mapped[str] = mapped_column(ID, primary_key=True)
