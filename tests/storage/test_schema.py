"""The schema the migrations build is exactly the schema the models describe,
on SQLite and on PostgreSQL, and its column types keep their meaning on both."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import StatementError

from clearing.fares import load_flat_fares, set_flat_fare
from clearing.ingest import Ingestor
from clearing.ledger import trial_balance
from clearing.registry import register_device, register_medium, register_participant
from clearing.storage import Database
from clearing.storage._database import alembic_config
from clearing.storage.models import Base, LedgerTransferRow, ParticipantRow, exists_on
from clearing.values import Device, Mode, Money, Participant, Role
from farebridge.codecs import generate_device_key, public_key_bytes, seal_batch
from farebridge.v1 import tap_pb2
from farebridge.v1.common_pb2 import TAP_DIRECTION_ON

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
# 2**53 + 1: the first integer a float (or a JSON number) cannot hold.
BEYOND_FLOAT = 9_007_199_254_740_993
SINGAPORE = timezone(timedelta(hours=8))
NEW_YORK_WINTER = timezone(timedelta(hours=-5))


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = Database(database_url)
    db.migrate()
    try:
        yield db
    finally:
        db.dispose()


@pytest.fixture
def sqlite_database(sqlite_url: str) -> Iterator[Database]:
    db = Database(sqlite_url)
    db.migrate()
    try:
        yield db
    finally:
        db.dispose()


def _schema_diff(database: Database) -> list[object]:
    with database.engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "include_object": lambda item, *_: exists_on(item, database.dialect),
            },
        )
        return list(compare_metadata(context, Base.metadata))


def _head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def _register(database: Database, participant_id: str, at: datetime) -> None:
    with database.transaction() as session:
        register_participant(
            session, Participant(participant_id, participant_id, Role.OPERATOR, "SGD"), at
        )


def _registered_at(database: Database, participant_id: str) -> datetime:
    with database.transaction() as session:
        stored = session.scalar(
            select(ParticipantRow.registered_at).where(
                ParticipantRow.participant_id == participant_id
            )
        )
    assert stored is not None
    return stored


def test_migrated_schema_equals_the_models(database: Database) -> None:
    assert _schema_diff(database) == []


def test_schema_diff_detects_drift(database: Database) -> None:
    """The comparison above can fail: a column the models lack is reported."""
    with database.transaction() as session:
        session.execute(text("ALTER TABLE participants ADD COLUMN nickname VARCHAR(20)"))
    diff = _schema_diff(database)
    assert any("nickname" in repr(entry) for entry in diff), diff


def test_migrating_twice_is_harmless(database: Database) -> None:
    _register(database, "op-metro", NOW)
    database.migrate()
    assert _schema_diff(database) == []
    with database.transaction() as session:
        versions = session.execute(text("SELECT version_num FROM alembic_version")).scalars()
        assert list(versions) == [_head_revision()]
        assert session.scalars(select(ParticipantRow.participant_id)).all() == ["op-metro"]


def test_every_model_table_exists_after_migration(database: Database) -> None:
    tables = set(inspect(database.engine).get_table_names())
    assert set(Base.metadata.tables) <= tables


@pytest.mark.parametrize("zone", [SINGAPORE, NEW_YORK_WINTER, UTC], ids=["+08", "-05", "utc"])
def test_an_aware_instant_reads_back_as_the_same_instant_in_utc(
    database: Database, zone: timezone
) -> None:
    local = datetime(2026, 3, 2, 7, 30, 15, 250_000, tzinfo=zone)
    _register(database, "op-metro", local)
    stored = _registered_at(database, "op-metro")
    assert stored == local
    assert stored.utcoffset() == timedelta(0)
    assert stored.astimezone(UTC).replace(tzinfo=None) == local.astimezone(UTC).replace(tzinfo=None)


def test_instants_order_by_the_instant_not_the_local_clock(database: Database) -> None:
    """08:00 in Singapore is earlier than 07:00 in New York on the same date."""
    singapore_morning = datetime(2026, 3, 2, 8, 0, tzinfo=SINGAPORE)
    new_york_morning = datetime(2026, 3, 2, 7, 0, tzinfo=NEW_YORK_WINTER)
    _register(database, "op-ny", new_york_morning)
    _register(database, "op-sg", singapore_morning)
    with database.transaction() as session:
        order = session.scalars(
            select(ParticipantRow.participant_id).order_by(ParticipantRow.registered_at)
        ).all()
    assert order == ["op-sg", "op-ny"]


def _store_participant_registered_at(database: Database, registered_at: datetime) -> None:
    with database.transaction() as session:
        session.add(
            ParticipantRow(
                participant_id="op-naive",
                display_name="Naive",
                role="operator",
                settlement_currency="SGD",
                registered_at=registered_at,
            )
        )


def test_a_naive_datetime_is_refused(database: Database) -> None:
    naive = datetime(2026, 3, 2, 8, 0)  # the wall clock of nowhere in particular
    with pytest.raises(StatementError) as refused:
        _store_participant_registered_at(database, naive)
    assert isinstance(refused.value.orig, ValueError)
    assert "naive" in str(refused.value.orig)
    with database.transaction() as session:
        assert session.get(ParticipantRow, "op-naive") is None


def test_money_columns_hold_amounts_beyond_float_precision(database: Database) -> None:
    """A fare of 2**53 + 1 minor units is loaded, charged through ingest and
    summed by the trial balance without losing the last unit."""
    reader_key = generate_device_key()
    with database.transaction() as session:
        register_participant(session, Participant("op-metro", "Metro", Role.OPERATOR, "SGD"), NOW)
        register_participant(session, Participant("iss", "Issuer", Role.ISSUER, "SGD"), NOW)
        reader = Device("gate-1", "op-metro", public_key_bytes(reader_key), "stop-1", Mode.METRO)
        register_device(session, reader, NOW)
        register_medium(session, "card-a", "iss", NOW)
        set_flat_fare(session, "op-metro", Mode.METRO, Money(BEYOND_FLOAT, "SGD"), NOW)
    batch = tap_pb2.TapBatch(device_id="gate-1", batch_id="b-1")
    tap = batch.taps.add(
        tap_id="t-big", device_sequence=1, medium_token="card-a", direction=TAP_DIRECTION_ON
    )
    tap.tapped_at.FromDatetime(NOW)
    Ingestor(database, lambda: NOW).ingest("op-metro", seal_batch(batch, reader_key))
    with database.transaction() as session:
        assert load_flat_fares(session)[("op-metro", Mode.METRO)] == Money(BEYOND_FLOAT, "SGD")
        (amount,) = session.scalars(select(LedgerTransferRow.amount)).all()
        assert type(amount) is int
        assert amount == BEYOND_FLOAT
        assert trial_balance(session) == {"SGD": (BEYOND_FLOAT, BEYOND_FLOAT)}


def test_sqlite_is_in_wal_mode_with_full_synchronous(sqlite_database: Database) -> None:
    assert sqlite_database.dialect == "sqlite"
    # Two raw connections held at once: every pooled connection is configured,
    # not just the first (raw, so that no BEGIN IMMEDIATE makes them queue).
    first = sqlite_database.engine.raw_connection()
    second = sqlite_database.engine.raw_connection()
    try:
        for connection in (first, second):
            cursor = connection.cursor()
            assert cursor.execute("PRAGMA journal_mode").fetchone() == ("wal",)
            assert cursor.execute("PRAGMA synchronous").fetchone() == (2,)  # 2 is FULL
            assert cursor.execute("PRAGMA foreign_keys").fetchone() == (1,)
            cursor.close()
    finally:
        first.close()
        second.close()


def test_dialect_names_the_database(database: Database, database_url: str) -> None:
    expected = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    assert database.dialect == expected
