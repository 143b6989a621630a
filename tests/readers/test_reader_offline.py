"""A reader works with no network at all: taps are durable, validated at the
moment of the tap, and survive a restart with key and sequence numbers intact."""

from __future__ import annotations

import datetime as dt
import stat
import uuid

import pytest

from readers import TAP_DIRECTION_OFF, TAP_DIRECTION_ON, InvalidTapError, Reader, ReaderError


def test_a_restarted_reader_keeps_its_key_its_pending_taps_and_its_sequence(tmp_path):
    with Reader("bus-17", tmp_path) as reader:
        first = reader.tap("card-alice", TAP_DIRECTION_ON)
        second = reader.tap("card-bob", TAP_DIRECTION_ON)
        key = reader.public_key

    with Reader("bus-17", tmp_path) as restarted:
        third = restarted.tap("card-alice", TAP_DIRECTION_OFF)
        stored = restarted.stored_taps()
        assert restarted.public_key == key
        assert restarted.pending_count() == 3

    assert [(t.tap_id, t.device_sequence, t.state) for t in stored] == [
        (first, 1, "pending"),
        (second, 2, "pending"),
        (third, 3, "pending"),
    ]


def test_the_device_key_is_a_private_ed25519_key_file(tmp_path):
    with Reader("bus-17", tmp_path) as reader:
        assert len(reader.public_key) == 32
    mode = stat.S_IMODE((tmp_path / "device_key.pem").stat().st_mode)
    assert mode == 0o600


def test_a_stored_tap_reads_back_exactly_as_it_was_tapped(tmp_path):
    tapped_at = dt.datetime(
        2025, 3, 14, 17, 5, 30, 123456, tzinfo=dt.timezone(dt.timedelta(hours=8))
    )
    with Reader("bus-17", tmp_path) as reader:
        tap_id = reader.tap("card-alice", TAP_DIRECTION_OFF, tapped_at=tapped_at, tap_id="t-1")
        (stored,) = reader.stored_taps()
    assert tap_id == "t-1"
    assert (stored.tapped_at, stored.medium_token, stored.direction) == (
        tapped_at,
        "card-alice",
        TAP_DIRECTION_OFF,
    )
    assert (stored.reject_reason, stored.detail) == (None, "")


def test_tapped_at_defaults_to_the_readers_clock(tmp_path):
    noon = dt.datetime(2025, 3, 14, 12, 0, tzinfo=dt.UTC)
    with Reader("bus-17", tmp_path, clock=lambda: noon) as reader:
        reader.tap("card-alice", TAP_DIRECTION_ON)
        (stored,) = reader.stored_taps()
    assert stored.tapped_at == noon


def test_a_default_tap_id_is_a_uuid7_of_the_taps_moment(tmp_path):
    """Time-ordered ids land next to each other in the clearing house's
    tap journal; random ones would each dirty a page of its index."""
    start = dt.datetime(2025, 3, 14, 12, 0, tzinfo=dt.UTC)
    moments = [start + dt.timedelta(milliseconds=n) for n in range(0, 50, 5)]
    with Reader("bus-17", tmp_path) as reader:
        ids = [uuid.UUID(reader.tap("card-alice", TAP_DIRECTION_ON, tapped_at=m)) for m in moments]
    for tap_id, moment in zip(ids, moments, strict=True):
        assert (tap_id.version, tap_id.variant) == (7, uuid.RFC_4122)
        assert tap_id.int >> 80 == int(moment.timestamp() * 1000)
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def test_repeating_a_tap_with_its_tap_id_stores_it_once(tmp_path):
    at = dt.datetime(2025, 3, 14, 8, 0, tzinfo=dt.UTC)
    with Reader("bus-17", tmp_path) as reader:
        reader.tap("card-alice", TAP_DIRECTION_ON, tapped_at=at, tap_id="t-1")
        reader.tap("card-alice", TAP_DIRECTION_ON, tapped_at=at, tap_id="t-1")
        assert reader.pending_count() == 1


def test_reusing_a_tap_id_for_another_tap_is_refused(tmp_path):
    at = dt.datetime(2025, 3, 14, 8, 0, tzinfo=dt.UTC)
    with Reader("bus-17", tmp_path) as reader:
        reader.tap("card-alice", TAP_DIRECTION_ON, tapped_at=at, tap_id="t-1")
        with pytest.raises(InvalidTapError, match="t-1"):
            reader.tap("card-bob", TAP_DIRECTION_ON, tapped_at=at, tap_id="t-1")
        assert [t.medium_token for t in reader.stored_taps()] == ["card-alice"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"medium_token": ""}, "medium_token"),
        ({"medium_token": "x" * 129}, "medium_token"),
        ({"direction": 0}, "direction"),
        ({"direction": 3}, "direction"),
        ({"tapped_at": dt.datetime(2025, 3, 14, 8, 0)}, "timezone-aware"),
        ({"tap_id": ""}, "tap_id"),
        ({"tap_id": "x" * 65}, "tap_id"),
    ],
)
def test_a_tap_the_clearing_house_would_refuse_is_refused_at_once(tmp_path, arguments, message):
    call = {"medium_token": "card-alice", "direction": TAP_DIRECTION_ON} | arguments
    with Reader("bus-17", tmp_path) as reader:
        with pytest.raises(InvalidTapError, match=message):
            reader.tap(**call)
        assert reader.pending_count() == 0
        reader.tap("card-alice", TAP_DIRECTION_ON)
        assert [t.device_sequence for t in reader.stored_taps()] == [1]


def test_the_longest_allowed_token_and_tap_id_are_accepted(tmp_path):
    with Reader("bus-17", tmp_path) as reader:
        reader.tap("x" * 128, TAP_DIRECTION_ON, tap_id="y" * 64)
        assert reader.pending_count() == 1


def test_a_refused_tap_can_be_caught_as_value_error_or_as_reader_error(tmp_path):
    with Reader("bus-17", tmp_path) as reader, pytest.raises(ValueError, match="medium") as caught:
        reader.tap("", TAP_DIRECTION_ON)
    assert isinstance(caught.value, ReaderError)


def test_a_state_directory_cannot_be_reused_by_another_device(tmp_path):
    Reader("bus-17", tmp_path).close()
    with pytest.raises(ReaderError, match="bus-17"):
        Reader("bus-18", tmp_path)


@pytest.mark.parametrize(
    "options", [{"max_batch_taps": 0}, {"max_batch_taps": 1001}, {"max_in_flight": 0}]
)
def test_settings_the_server_cannot_honour_are_refused_at_construction(tmp_path, options):
    with pytest.raises(ValueError, match=next(iter(options))):
        Reader("bus-17", tmp_path, **options)


def test_upload_without_a_connection_explains_itself(tmp_path):
    with Reader("bus-17", tmp_path) as reader:
        reader.tap("card-alice", TAP_DIRECTION_ON)
        with pytest.raises(ReaderError, match="ServerConnection"):
            reader.upload()
        assert reader.pending_count() == 1
