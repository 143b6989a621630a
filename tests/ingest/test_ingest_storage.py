"""The tap journal's driver-level read and write agree with the ORM's view of
``taps`` on SQLite and PostgreSQL; the ingestor's registry caches stay
bounded and never remember an unknown medium."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from clearing.caching import BoundedCache
from clearing.fares import set_flat_fare
from clearing.ingest import Ingestor, TapStatus
from clearing.ingest import _batch as batch_module
from clearing.ingest._batch import cached
from clearing.ingest._journal import JournalRow, append_taps, stored_digests
from clearing.registry import register_device, register_medium, register_participant
from clearing.storage import Database
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


def test_cached_loads_only_what_is_missing_and_remembers_only_what_was_found() -> None:
    cache: BoundedCache[str, int] = BoundedCache(10)
    cache.put("known", 1)
    asked: list[list[str]] = []

    def load(keys: list[str]) -> dict[str, int]:
        asked.append(keys)
        return {k: len(k) for k in keys if k != "absent"}

    assert cached(cache, ["known", "new", "absent", "new"], load) == {"known": 1, "new": 3}
    assert asked == [["new", "absent"]]
    assert cached(cache, ["new", "absent"], load) == {"new": 3}
    assert asked[-1] == ["absent"]  # an absence is asked again, never remembered
    assert len(cache) == 2


def test_cached_answers_every_key_even_beyond_the_bound() -> None:
    cache: BoundedCache[int, int] = BoundedCache(2)
    assert cached(cache, range(5), lambda keys: {k: k * k for k in keys}) == {
        k: k * k for k in range(5)
    }
    assert len(cache) == 2
