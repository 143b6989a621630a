"""Text no database can store the same way: a NUL character in any string
of any request is refused with INVALID_ARGUMENT naming the field, on SQLite
and PostgreSQL alike, and what was accepted before stays as it was."""

from __future__ import annotations

import uuid

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from farebridge.codecs import seal_batch
from farebridge.v1 import (
    audit_service_pb2,
    audit_service_pb2_grpc,
    common_pb2,
    reader_service_pb2,
    registry_service_pb2,
    tap_pb2,
)

from .conftest import (
    AUDITOR,
    CARDS,
    CLEARING_HOUSE,
    METRO,
    RawDevice,
    World,
    batch_rejection,
    books,
    now,
    submit,
    tap,
)

Reg = registry_service_pb2
Rs = reader_service_pb2


def violated_field(error: grpc.RpcError) -> str:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None
    request = error_details_pb2.BadRequest()
    assert any(detail.Unpack(request) for detail in status.details)
    return request.field_violations[0].field


def refused(call: pytest.ExceptionInfo[grpc.RpcError]) -> tuple[grpc.StatusCode, str]:
    return call.value.code(), violated_field(call.value)  # type: ignore[attr-defined]


def participant_ids(world: World) -> list[str]:
    listed = world.registry(AUDITOR).ListParticipants(Reg.ListParticipantsRequest())
    return sorted(p.participant_id for p in listed.participants)


def test_a_nul_in_a_nested_field_is_refused_by_its_path(world: World) -> None:
    before = participant_ids(world)
    evil = Reg.Participant(
        participant_id="ferry\x00co", display_name="Ferry",
        role=common_pb2.PARTICIPANT_ROLE_OPERATOR, settlement_currency="SGD",
    )  # fmt: skip
    with pytest.raises(grpc.RpcError) as caught:
        world.registry(CLEARING_HOUSE).RegisterParticipant(
            Reg.RegisterParticipantRequest(participant=evil)
        )
    assert refused(caught) == (grpc.StatusCode.INVALID_ARGUMENT, "participant.participant_id")
    assert "NUL" in (caught.value.details() or "")  # type: ignore[attr-defined]
    assert participant_ids(world) == before


def test_a_nul_in_a_medium_token_is_refused_by_its_path(world: World) -> None:
    medium = Reg.Medium(medium_token="card-\x00-9")
    with pytest.raises(grpc.RpcError) as caught:
        world.registry(CARDS).RegisterMedium(Reg.RegisterMediumRequest(medium=medium))
    assert refused(caught) == (grpc.StatusCode.INVALID_ARGUMENT, "medium.medium_token")


def _log_line(tap_id: str, sequence: int) -> audit_service_pb2.ReaderLogLine:
    line = audit_service_pb2.ReaderLogLine(
        tap_id=tap_id, device_id="metro-gate-1", device_sequence=sequence,
        medium_token="card-1", direction="on", state="accepted",
    )  # fmt: skip
    line.tapped_at.FromDatetime(now())
    return line


def test_a_nul_in_a_streamed_message_names_the_message_item(world: World) -> None:
    chunks = [
        audit_service_pb2.ReconcileRequest(lines=[_log_line("t-1", 1)]),
        audit_service_pb2.ReconcileRequest(lines=[_log_line("t-2", 2), _log_line("t-\x003", 3)]),
    ]
    stub = audit_service_pb2_grpc.AuditServiceStub(world.channel(AUDITOR))
    with pytest.raises(grpc.RpcError) as caught:
        stub.Reconcile(iter(chunks))
    assert refused(caught) == (grpc.StatusCode.INVALID_ARGUMENT, "lines[1].tap_id")


def _signed(device: RawDevice, batch_id: str, device_id: str) -> Rs.SubmitTapsRequest:
    batch = tap_pb2.TapBatch(device_id=device_id, batch_id=batch_id, taps=[tap("t-2")])
    batch.sealed_at.FromDatetime(now())
    return Rs.SubmitTapsRequest(signed_batch=seal_batch(batch, device.key))


def test_a_nul_in_a_signed_batchs_ids_is_answered_without_losing_accepted_taps(
    world: World, gate: RawDevice
) -> None:
    submit(world, METRO, gate.batch(tap("t-1")))
    before = books(world)
    cases = [
        (_signed(gate, "b\x00", gate.device_id), grpc.StatusCode.INVALID_ARGUMENT,
         Rs.BATCH_REJECT_REASON_MALFORMED),
        (_signed(gate, str(uuid.uuid4()), "metro\x00gate"), grpc.StatusCode.NOT_FOUND,
         Rs.BATCH_REJECT_REASON_UNKNOWN_DEVICE),
    ]  # fmt: skip
    for request, code, reason in cases:
        with pytest.raises(grpc.RpcError) as caught:
            submit(world, METRO, request)
        assert caught.value.code() == code  # type: ignore[attr-defined]
        assert batch_rejection(caught.value).reason == reason
    assert books(world) == before
