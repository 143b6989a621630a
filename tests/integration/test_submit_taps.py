"""ReaderService.SubmitTaps over real mTLS sockets, on SQLite and PostgreSQL.

Every refusal must say why, with a status and details, and must leave what
was accepted before it exactly as it was.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import grpc
import pytest
from grpc_status import rpc_status

from farebridge.v1 import common_pb2, reader_service_pb2, reader_service_pb2_grpc, tap_pb2
from readers import TAP_DIRECTION_OFF, TAP_DIRECTION_ON, BatchRejectedError

from .conftest import (
    BUS,
    METRO,
    METRO_FARE,
    STRANGER,
    RawDevice,
    World,
    batch_rejection,
    books,
    now,
    submit,
    tap,
)

Rs = reader_service_pb2


def statuses(response: reader_service_pb2.SubmitTapsResponse) -> list[str]:
    return [Rs.TapStatus.Name(result.status) for result in response.results]


def test_reader_taps_are_acknowledged_stored_once_and_charged(world: World) -> None:
    reader = world.install_reader("metro-central-1")
    on = [reader.tap(f"card-{n}", TAP_DIRECTION_ON) for n in (1, 2, 3)]
    off = [reader.tap(f"card-{n}", TAP_DIRECTION_OFF) for n in (1, 2)]
    report = reader.upload()
    reader.close()

    assert (report.accepted, report.duplicates, report.rejected) == (5, 0, 0)
    assert {t.state for t in reader_states(world, "metro-central-1")} == {"accepted"}
    held = books(world)
    assert held.tap_ids == set(on + off)
    assert held.fare_total == 3 * METRO_FARE, "tap-ons pay the flat fare, tap-offs are free"


def reader_states(world: World, device_id: str) -> list[object]:
    reader = world.reader(device_id)
    try:
        return list(reader.stored_taps())
    finally:
        reader.close()


def test_replayed_batch_answers_duplicate_and_charges_nothing_twice(
    world: World, gate: RawDevice
) -> None:
    at = now() - timedelta(minutes=3)
    request = gate.batch(tap("t-1", at=at), tap("t-2", token="card-2", at=at))
    first, replay = submit(world, METRO, request, request)
    assert statuses(first) == ["TAP_STATUS_ACCEPTED"] * 2
    assert statuses(replay) == ["TAP_STATUS_DUPLICATE"] * 2
    assert books(world).fare_total == 2 * METRO_FARE
    again = submit(world, METRO, gate.batch(tap("t-1", at=at), tap("t-2", token="card-2", at=at)))
    assert statuses(again[0]) == ["TAP_STATUS_DUPLICATE"] * 2, "a new batch of old taps too"
    assert books(world).fare_total == 2 * METRO_FARE


def test_one_bad_tap_is_rejected_with_its_reason_and_the_rest_accepted(
    world: World, gate: RawDevice
) -> None:
    future = tap("t-future", at=now() + timedelta(hours=1))
    sideways = tap("t-sideways", direction=common_pb2.TAP_DIRECTION_UNSPECIFIED)
    no_token = tap("t-no-token", token="")
    good = tap("t-good")
    (response,) = submit(world, METRO, gate.batch(future, sideways, no_token, good))
    reasons = [Rs.TapRejectReason.Name(r.reject_reason) for r in response.results]
    assert statuses(response) == ["TAP_STATUS_REJECTED"] * 3 + ["TAP_STATUS_ACCEPTED"]
    assert reasons[:3] == [
        "TAP_REJECT_REASON_FUTURE_TIME",
        "TAP_REJECT_REASON_INVALID_DIRECTION",
        "TAP_REJECT_REASON_INVALID_MEDIUM_TOKEN",
    ]
    assert all(r.detail for r in response.results[:3]), "a rejection explains itself"
    assert books(world).tap_ids == {"t-good"}


def test_reusing_a_tap_id_for_other_content_is_rejected_and_changes_nothing(
    world: World, gate: RawDevice
) -> None:
    submit(world, METRO, gate.batch(tap("t-1", token="card-1")))
    before = books(world)
    (response,) = submit(world, METRO, gate.batch(tap("t-1", token="card-2")))
    assert response.results[0].reject_reason == Rs.TAP_REJECT_REASON_TAP_ID_CONFLICT
    assert books(world) == before


def test_a_batch_signed_with_another_key_is_unauthenticated_and_stores_nothing(
    world: World, gate: RawDevice
) -> None:
    submit(world, METRO, gate.batch(tap("t-ok")))
    before = books(world)
    impostor = RawDevice(gate.device_id)  # right device id, wrong key
    with pytest.raises(grpc.RpcError) as caught:
        submit(world, METRO, impostor.batch(tap("t-forged")))
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED  # type: ignore[attr-defined]
    assert batch_rejection(caught.value).reason == Rs.BATCH_REJECT_REASON_BAD_SIGNATURE
    assert books(world) == before


def test_bytes_altered_after_signing_are_refused(world: World, gate: RawDevice) -> None:
    request = gate.batch(tap("t-1", token="card-1"))
    tampered = request.signed_batch.batch.replace(b"card-1", b"card-2")
    request.signed_batch.batch = tampered
    with pytest.raises(grpc.RpcError) as caught:
        submit(world, METRO, request)
    assert batch_rejection(caught.value).reason == Rs.BATCH_REJECT_REASON_BAD_SIGNATURE
    assert books(world).tap_ids == set()


def test_an_unregistered_device_is_not_found(world: World) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        submit(world, METRO, RawDevice("ghost-reader").batch(tap("t-1")))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND  # type: ignore[attr-defined]
    rejection = batch_rejection(caught.value)
    assert rejection.reason == Rs.BATCH_REJECT_REASON_UNKNOWN_DEVICE
    assert rejection.device_id == "ghost-reader"


def test_an_operator_cannot_submit_for_another_operators_reader(
    world: World, gate: RawDevice
) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        submit(world, BUS, gate.batch(tap("t-1")))
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED  # type: ignore[attr-defined]
    assert batch_rejection(caught.value).reason == Rs.BATCH_REJECT_REASON_FOREIGN_DEVICE
    assert books(world).tap_ids == set()


def test_batches_before_a_refused_one_stay_committed(world: World, gate: RawDevice) -> None:
    good = gate.batch(tap("t-1"))
    forged = RawDevice(gate.device_id).batch(tap("t-2"))
    stream = world.taps_stub(METRO).SubmitTaps(iter([good, forged]), timeout=20)
    first = next(stream)
    assert statuses(first) == ["TAP_STATUS_ACCEPTED"]
    with pytest.raises(grpc.RpcError):
        next(stream)
    assert books(world).tap_ids == {"t-1"}


def test_malformed_empty_and_oversized_batches_are_invalid_arguments(
    world: World, gate: RawDevice
) -> None:
    submit(world, METRO, gate.batch(tap("t-kept")))
    before = books(world)
    garbage = Rs.SubmitTapsRequest(
        signed_batch=tap_pb2.SignedTapBatch(batch=b"\xff\xff\xff", signature=b"x" * 64)
    )
    crowded = gate.batch(*(tap(f"t-{n}", sequence=n) for n in range(1001)))
    cases = [
        (garbage, Rs.BATCH_REJECT_REASON_MALFORMED),
        (gate.batch(), Rs.BATCH_REJECT_REASON_EMPTY),
        (crowded, Rs.BATCH_REJECT_REASON_TOO_LARGE),
    ]
    for request, reason in cases:
        with pytest.raises(grpc.RpcError) as caught:
            submit(world, METRO, request)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]
        assert batch_rejection(caught.value).reason == reason
    assert books(world) == before


def test_a_message_beyond_the_size_limit_is_refused_by_the_transport(
    world: World, gate: RawDevice
) -> None:
    bloated = gate.batch(tap("t-1"))
    bloated.signed_batch.signature = b"\0" * (2 * 1024 * 1024)
    with pytest.raises(grpc.RpcError) as caught:
        submit(world, METRO, bloated)
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED  # type: ignore[attr-defined]
    assert books(world).tap_ids == set()


def test_a_client_without_a_certificate_cannot_connect(world: World, gate: RawDevice) -> None:
    credentials = grpc.ssl_channel_credentials(world.pki.ca_cert.read_bytes())
    with grpc.secure_channel(world.address, credentials) as channel:
        stub = reader_service_pb2_grpc.ReaderServiceStub(channel)
        with pytest.raises(grpc.RpcError) as caught:
            list(stub.SubmitTaps(iter([gate.batch(tap("t-1"))]), timeout=10))
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE  # type: ignore[attr-defined]
    assert books(world).tap_ids == set()


def test_a_certificate_of_no_registered_participant_is_unauthenticated(
    world: World, gate: RawDevice
) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        submit(world, STRANGER, gate.batch(tap("t-1")))
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED  # type: ignore[attr-defined]
    status = rpc_status.from_call(caught.value)  # type: ignore[arg-type]
    assert status is not None
    assert b"UNKNOWN_PARTICIPANT" in status.details[0].value
    assert books(world).tap_ids == set()


def test_the_sdk_surfaces_a_refused_batch_with_its_reason(world: World) -> None:
    reader = world.reader("never-registered")
    reader.tap("card-1", TAP_DIRECTION_ON)
    with pytest.raises(BatchRejectedError) as caught:
        reader.upload(max_attempts=2, initial_backoff=0.01)
    reader.close()
    assert caught.value.reason == Rs.BATCH_REJECT_REASON_UNKNOWN_DEVICE
    assert caught.value.status_code == grpc.StatusCode.NOT_FOUND


def test_taps_are_deduplicated_across_readers_restarts(world: World) -> None:
    reader = world.install_reader("metro-central-1")
    ids = [reader.tap("card-1", TAP_DIRECTION_ON, tap_id=str(uuid.uuid4())) for _ in range(3)]
    reader.upload()
    reader.close()
    restarted = world.reader("metro-central-1")
    restarted.tap("card-2", TAP_DIRECTION_ON)
    report = restarted.upload()
    restarted.close()
    assert report.accepted == 1, "only the new tap travels after a restart"
    assert books(world).tap_ids >= set(ids)
    assert books(world).fare_total == 4 * METRO_FARE
