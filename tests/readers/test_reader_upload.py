"""Uploading to a clearing house over real mTLS sockets: answers recorded,
lost acknowledgements healed by resending, refusals and outages reported."""

from __future__ import annotations

import datetime as dt
import shutil
import threading

import grpc
import pytest

from farebridge.v1 import reader_service_pb2 as rs
from readers import (
    TAP_DIRECTION_ON,
    BatchRejectedError,
    Reader,
    ServerConnection,
    UploadIncompleteError,
    UploadReport,
)

FAST = {"initial_backoff": 0.01, "max_backoff": 0.05}
RUSH_HOUR = """
    08:00 ON  card-alice
    08:01 ON  card-bob
    08:20 OFF card-alice
    08:25 ON  card-carol
    08:31 OFF card-bob
    08:40 OFF card-carol
"""


def test_upload_hands_every_pending_tap_to_the_clearing_house(
    open_reader, clearing_house, tap_script
):
    reader = open_reader(max_batch_taps=4)
    tap_ids = tap_script(reader, RUSH_HOUR)

    report = reader.upload()

    assert report == UploadReport(accepted=6, batches=2, attempts=1)
    assert reader.pending_count() == 0
    assert {t.state for t in reader.stored_taps()} == {"accepted"}
    assert set(clearing_house.fake.taps) == set(tap_ids)


def test_batches_are_signed_bounded_and_in_sequence_order(open_reader, clearing_house, tap_script):
    reader = open_reader(max_batch_taps=4)
    tap_script(reader, RUSH_HOUR)

    reader.upload()

    batches = clearing_house.fake.batches  # each one verified with the registered key
    assert [len(b.taps) for b in batches] == [4, 2]
    assert [t.device_sequence for b in batches for t in b.taps] == [1, 2, 3, 4, 5, 6]
    assert {b.device_id for b in batches} == {"metro-gate-1"}
    assert len({b.batch_id for b in batches}) == 2


def test_a_second_upload_sends_nothing_already_answered(open_reader, clearing_house, tap_script):
    reader = open_reader()
    tap_script(reader, RUSH_HOUR)
    reader.upload()

    assert reader.upload() == UploadReport()
    assert len(clearing_house.fake.batches) == 1


def test_a_rejected_tap_is_kept_with_its_reason_and_never_resent(open_reader, clearing_house):
    reader = open_reader()
    reader.tap("card-alice", TAP_DIRECTION_ON)
    tomorrow = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)  # a reader clock gone wrong
    bad = reader.tap("card-bob", TAP_DIRECTION_ON, tapped_at=tomorrow)

    report = reader.upload()
    reader.upload()

    assert (report.accepted, report.rejected) == (1, 1)
    (stored,) = [t for t in reader.stored_taps() if t.tap_id == bad]
    assert (stored.state, stored.reject_reason) == ("rejected", rs.TAP_REJECT_REASON_FUTURE_TIME)
    assert "future" in stored.detail
    assert len(clearing_house.fake.batches) == 1


def test_a_reader_restored_from_backup_learns_its_taps_are_duplicates(
    open_reader, connection, tmp_path
):
    reader = open_reader()
    reader.tap("card-alice", TAP_DIRECTION_ON)
    reader.close()
    shutil.copytree(tmp_path / "metro-gate-1", tmp_path / "backup")
    with Reader("metro-gate-1", tmp_path / "metro-gate-1", connection) as live:
        live.upload()

    with Reader("metro-gate-1", tmp_path / "backup", connection) as restored:
        report = restored.upload()
        assert (report.accepted, report.duplicates) == (0, 1)
        assert [t.state for t in restored.stored_taps()] == ["duplicate"]


def test_a_lost_ack_is_healed_by_resending_and_every_tap_is_stored_once(
    open_reader, clearing_house, tap_script
):
    reader = open_reader(max_batch_taps=2, max_in_flight=1)
    tap_script(reader, RUSH_HOUR)
    clearing_house.fake.lose_ack_after = 2  # commits batch 2, then the link drops

    report = reader.upload(**FAST)

    assert report == UploadReport(accepted=4, duplicates=2, batches=3, attempts=2)
    assert reader.pending_count() == 0
    assert len(clearing_house.fake.taps) == 6
    stored_twice = [t.tap_id for b in clearing_house.fake.batches for t in b.taps]
    assert len(stored_twice) == 8  # the two unacknowledged taps went twice...
    assert [t.state for t in reader.stored_taps()].count("duplicate") == 2  # ...and count once


def test_batches_are_pipelined_on_one_stream(open_reader, clearing_house, tap_script):
    reader = open_reader(max_batch_taps=1, max_in_flight=3)
    tap_script(reader, RUSH_HOUR)
    # Answers only come once three batches have arrived: a client that waited
    # for each answer before sending the next would hit the deadline instead.
    clearing_house.fake.answer_in_groups = 3

    report = reader.upload(timeout=5, max_attempts=1)

    assert (report.accepted, report.batches, report.attempts) == (6, 6, 1)
    assert clearing_house.fake.streams == 1


@pytest.mark.parametrize(
    ("setup", "status", "reason"),
    [
        ("unregistered", grpc.StatusCode.NOT_FOUND, rs.BATCH_REJECT_REASON_UNKNOWN_DEVICE),
        ("foreign", grpc.StatusCode.PERMISSION_DENIED, rs.BATCH_REJECT_REASON_FOREIGN_DEVICE),
        ("other key", grpc.StatusCode.UNAUTHENTICATED, rs.BATCH_REJECT_REASON_BAD_SIGNATURE),
    ],
)
def test_a_refused_batch_raises_with_the_reason_and_keeps_every_tap(
    open_reader, clearing_house, tap_script, setup, status, reason
):
    reader = open_reader(register=False)
    fake = clearing_house.fake
    if setup == "foreign":
        fake.register(reader.device_id, reader.public_key, operator_id="operator-ferry")
    if setup == "other key":
        fake.register(reader.device_id, open_reader("some-other-gate").public_key)
    tap_script(reader, RUSH_HOUR)

    with pytest.raises(BatchRejectedError) as caught:
        reader.upload(**FAST)

    assert (caught.value.reason, caught.value.status_code) == (reason, status)
    assert caught.value.batch_id
    assert reader.pending_count() == 6
    assert fake.streams == 1  # permanent: no retries


def test_a_server_that_stays_down_ends_in_upload_incomplete(
    open_reader, clearing_house, tap_script
):
    reader = open_reader()
    tap_script(reader, RUSH_HOUR)
    clearing_house.fake.down = True

    with pytest.raises(UploadIncompleteError) as caught:
        reader.upload(max_attempts=3, **FAST)

    assert caught.value.pending == 6
    assert caught.value.last_status == grpc.StatusCode.UNAVAILABLE
    assert clearing_house.fake.streams == 3
    assert reader.pending_count() == 6


def test_an_upload_after_an_outage_delivers_the_backlog(open_reader, clearing_house, tap_script):
    reader = open_reader()
    tap_script(reader, RUSH_HOUR)
    clearing_house.fake.down = True
    with pytest.raises(UploadIncompleteError):
        reader.upload(max_attempts=2, **FAST)

    clearing_house.fake.down = False
    report = reader.upload(**FAST)

    assert report.accepted == 6
    assert reader.pending_count() == 0


def test_an_unreachable_address_ends_in_upload_incomplete(open_reader, pki, tmp_path):
    nowhere = ServerConnection("127.0.0.1:1", pki.ca_cert, pki.client_cert, pki.client_key)
    reader = open_reader(connection=nowhere)
    reader.tap("card-alice", TAP_DIRECTION_ON)

    with pytest.raises(UploadIncompleteError) as caught:
        reader.upload(max_attempts=2, timeout=5, **FAST)

    assert caught.value.pending == 1


def test_taps_keep_coming_while_an_upload_runs(open_reader, clearing_house):
    reader = open_reader(max_batch_taps=5, max_in_flight=2)
    for _ in range(50):
        reader.tap("card-alice", TAP_DIRECTION_ON)

    def keep_tapping() -> None:
        for _ in range(100):
            reader.tap("card-bob", TAP_DIRECTION_ON)

    tapper = threading.Thread(target=keep_tapping)
    tapper.start()
    reader.upload()
    tapper.join()
    reader.upload()

    sequences = [t.device_sequence for t in reader.stored_taps()]
    assert sequences == list(range(1, 151))
    assert reader.pending_count() == 0
    assert len(clearing_house.fake.taps) == 150
