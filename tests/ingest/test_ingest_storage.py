"""The tap journal's driver-level read and write agree with the ORM's view of
``taps`` on SQLite and PostgreSQL; the ingestor's registry caches stay
bounded and never remember an unknown medium."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from clearing.fares import load_flat_fares, set_flat_fare
from clearing.ingest import Ingestor, TapRejectReason, TapStatus
from clearing.ingest import _batch as batch_module
from clearing.ingest._journal import JournalRow, append_taps, stored_digests
from clearing.registry import register_device, register_medium, register_participant
from clearing.storage import Database
from clearing.storage import _database as database_module
from clearing.storage.models import TapRow, UnpricedTapRow
from clearing.values import Device, Mode, Money, Participant, Role
from farebridge.codecs import generate_device_key, public_key_bytes, seal_batch
from farebridge.v1 import tap_pb2
from farebridge.v1.common_pb2 import TAP_DIRECTION_ON

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
KEY = generate_device_key()


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = Database(database_url)
    db.migrate()
    with db.transaction() as session:
        register_participant(session, Participant("op", "Metro", Role.OPERATOR, "SGD"), NOW)
        register_participant(session, Participant("iss", "Issuer", Role.ISSUER, "SGD"), NOW)
        device = Device("gate-1", "op", public_key_bytes(KEY), "stop-1", Mode.METRO)
        register_device(session, device, NOW)
        set_flat_fare(session, "op", Mode.METRO, Money(150, "SGD"), NOW)
    try:
        yield db
    finally:
        db.dispose()


def _row(tap_id: str, sequence: int) -> JournalRow:
    # A non-UTC offset and microseconds: both must survive the driver path.
    tapped_at = (NOW + timedelta(microseconds=sequence)).astimezone(
        datetime.now().astimezone().tzinfo
    )
    digest = hashlib.sha256(tap_id.encode()).digest()
    return (tap_id, "gate-1", "op", sequence, tapped_at, "card-1", "on", "b-1", NOW, digest)


def test_appended_taps_read_back_through_the_orm_as_written(database: Database) -> None:
    rows = [_row(f"t-{n}", n) for n in range(1, 4)]
    with database.transaction() as session:
        append_taps(session, rows)
    with database.transaction() as session:
        stored = {r.tap_id: r for r in session.scalars(select(TapRow))}
        assert stored_digests(session, ["t-1", "t-3", "t-9"]) == {
            "t-1": rows[0][9], "t-3": rows[2][9],
        }  # fmt: skip
        assert stored_digests(session, []) == {}
    for row in rows:
        got = stored[row[0]]
        assert (got.device_id, got.operator_id, got.device_sequence) == row[1:4]
        assert got.tapped_at == row[4]
        assert (got.medium_token, got.direction, got.batch_id) == row[5:8]
        assert got.received_at == NOW
        assert bytes(got.content_digest) == row[9]


def test_stored_taps_are_found_by_any_id_a_reader_may_send(sqlite_url: str) -> None:
    """Tap ids are free text (PostgreSQL's text refuses NUL, so SQLite only):
    a lookup must find an id with a NUL or a quote in it, or the tap's
    retry would be taken for a new tap."""
    database = Database(sqlite_url)
    database.migrate()
    with database.transaction() as session:
        register_participant(session, Participant("op", "Metro", Role.OPERATOR, "SGD"), NOW)
        register_device(
            session, Device("gate-1", "op", public_key_bytes(KEY), "stop-1", Mode.METRO), NOW
        )
    odd = ["\x00", "a\x00b", '"', "\\u0000", "é", "t-1"]
    try:
        with database.transaction() as session:
            append_taps(session, [_row(tap_id, n) for n, tap_id in enumerate(odd, 1)])
        with database.transaction() as session:
            assert set(stored_digests(session, [*odd, "\x00\x00"])) == set(odd)
    finally:
        database.dispose()


def test_a_tap_id_appended_twice_is_an_integrity_error(database: Database) -> None:
    with database.transaction() as session:
        append_taps(session, [_row("t-1", 1)])
    with pytest.raises(IntegrityError), database.transaction() as session:
        append_taps(session, [_row("t-2", 2), _row("t-1", 1)])
    with database.transaction() as session:
        assert session.scalars(select(TapRow.tap_id)).all() == ["t-1"]


def _tap_batch(batch_id: str, taps: list[tuple[str, str]]) -> tap_pb2.SignedTapBatch:
    batch = tap_pb2.TapBatch(device_id="gate-1", batch_id=batch_id)
    for sequence, (tap_id, medium) in enumerate(taps, start=1):
        tap = batch.taps.add(
            tap_id=tap_id, device_sequence=sequence, medium_token=medium,
            direction=TAP_DIRECTION_ON,
        )  # fmt: skip
        tap.tapped_at.FromDatetime(NOW)
    return seal_batch(batch, KEY)


def test_a_nul_in_a_tap_id_or_medium_token_rejects_that_tap_alone(database: Database) -> None:
    """PostgreSQL's text cannot hold a NUL: such a tap is refused by name on
    both databases, and the rest of its batch goes in."""
    with database.transaction() as session:
        register_medium(session, "card-1", "iss", NOW)
    ingestor = Ingestor(database, lambda: NOW)
    taps = [("t\x00-1", "card-1"), ("t-2", "card\x00-1"), ("t-3", "card-1")]
    outcome = ingestor.ingest("op", _tap_batch("b-1", taps))
    assert [(o.status, o.reject_reason) for o in outcome.outcomes] == [
        (TapStatus.REJECTED, TapRejectReason.INVALID_TAP_ID),
        (TapStatus.REJECTED, TapRejectReason.INVALID_MEDIUM_TOKEN),
        (TapStatus.ACCEPTED, None),
    ]
    with database.transaction() as session:
        assert session.scalars(select(TapRow.tap_id)).all() == ["t-3"]


def test_the_media_cache_is_bounded(database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batch_module, "MEDIA_CACHE_SIZE", 4)
    with database.transaction() as session:
        for n in range(10):
            register_medium(session, f"card-{n}", "iss", NOW)
    ingestor = Ingestor(database, lambda: NOW)
    for n in range(10):
        outcome = ingestor.ingest("op", _tap_batch(f"b-{n}", [(f"t-{n}", f"card-{n}")]))
        assert outcome.outcomes[0].status is TapStatus.ACCEPTED
        assert len(ingestor._issuers) <= 4
    with database.transaction() as session:
        assert session.scalars(select(UnpricedTapRow.tap_id)).all() == []


def test_an_unknown_medium_is_not_remembered_as_unknown(database: Database) -> None:
    ingestor = Ingestor(database, lambda: NOW)
    ingestor.ingest("op", _tap_batch("b-1", [("t-1", "card-late")]))
    with database.transaction() as session:
        register_medium(session, "card-late", "iss", NOW)
    ingestor.ingest("op", _tap_batch("b-2", [("t-2", "card-late")]))
    with database.transaction() as session:
        assert session.scalars(select(UnpricedTapRow.tap_id)).all() == ["t-1"]


def _sqlite_world(url: str, devices: int, media: int) -> tuple[Database, dict[str, Any]]:
    db = Database(url)
    db.migrate()
    keys = {f"gate-{n}": generate_device_key() for n in range(devices)}
    with db.transaction() as session:
        register_participant(session, Participant("op", "Metro", Role.OPERATOR, "SGD"), NOW)
        register_participant(session, Participant("iss", "Issuer", Role.ISSUER, "SGD"), NOW)
        for device_id, key in keys.items():
            device = Device(device_id, "op", public_key_bytes(key), "stop", Mode.METRO)
            register_device(session, device, NOW)
        for n in range(media):
            register_medium(session, f"card-{n}", "iss", NOW)
        set_flat_fare(session, "op", Mode.METRO, Money(150, "SGD"), NOW)
    return db, keys


def _upload_concurrently(
    ingestor: Ingestor, keys: dict[str, Any], batches: int, size: int, media: int
) -> int:
    """Every device uploads ``batches`` batches on its own thread; answers
    how many taps were accepted."""

    def upload(device_id: str) -> int:
        accepted = 0
        for number in range(batches):
            batch = tap_pb2.TapBatch(device_id=device_id, batch_id=f"{device_id}-{number}")
            for n in range(size):
                sequence = number * size + n + 1
                tap = batch.taps.add(
                    tap_id=f"{device_id}-{sequence}", device_sequence=sequence,
                    medium_token=f"card-{sequence % media}", direction=TAP_DIRECTION_ON,
                )  # fmt: skip
                tap.tapped_at.FromDatetime(NOW)
            outcome = ingestor.ingest("op", seal_batch(batch, keys[device_id]))
            accepted += sum(o.status is TapStatus.ACCEPTED for o in outcome.outcomes)
        return accepted

    with ThreadPoolExecutor(len(keys)) as pool:
        return sum(pool.map(upload, keys))


def test_concurrent_batches_on_sqlite_queue_in_process_not_on_the_busy_timeout(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a busy timeout far shorter than a batch takes, writers left to
    SQLite's busy handler fail with "database is locked"; the process's
    own queue of writers lets every batch through."""
    monkeypatch.setattr(database_module, "SQLITE_BUSY_TIMEOUT_MS", 1)
    db, keys = _sqlite_world(sqlite_url, devices=6, media=50)
    try:
        assert _upload_concurrently(Ingestor(db, lambda: NOW), keys, 6, 50, 50) == 6 * 6 * 50
        with db.transaction() as session:
            assert session.scalar(select(func.count()).select_from(TapRow)) == 6 * 6 * 50
    finally:
        db.dispose()


def test_fares_read_once_per_transaction_follow_a_change_made_in_it(database: Database) -> None:
    """A transaction that stores several reader batches reads the fares once;
    one that changes a fare prices what follows with the new fare."""
    with database.transaction() as session:
        assert load_flat_fares(session) == {("op", Mode.METRO): Money(150, "SGD")}
        set_flat_fare(session, "op", Mode.METRO, Money(170, "SGD"), NOW)
        assert load_flat_fares(session) == {("op", Mode.METRO): Money(170, "SGD")}
    with database.transaction() as session:
        assert load_flat_fares(session) == {("op", Mode.METRO): Money(170, "SGD")}
