"""Auditors are read-only and see what they are entitled to: an auditor
scoped to one operator sees that operator's records and nobody else's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import grpc
import pytest

from clearing.ledger import fare_transfer_id
from farebridge.v1 import (
    audit_service_pb2,
    audit_service_pb2_grpc,
    clearing_service_pb2,
    common_pb2,
    registry_service_pb2,
)

from .conftest import BUS, CLEARING_HOUSE, METRO, RawDevice, World, register_device, submit, tap

SCOPED = "metro-auditor"
A = audit_service_pb2


def code(caught: pytest.ExceptionInfo[grpc.RpcError]) -> grpc.StatusCode:
    status = caught.value.code()  # type: ignore[attr-defined]
    assert isinstance(status, grpc.StatusCode)
    return status


@pytest.fixture
def day(world: World) -> World:
    """A metro fare and a bus fare, cleared, and an auditor of the metro only."""
    auditor = registry_service_pb2.Participant(
        participant_id=SCOPED, display_name="Metro's auditor",
        role=common_pb2.PARTICIPANT_ROLE_AUDITOR, settlement_currency="SGD", audit_scope=[METRO],
    )  # fmt: skip
    world.registry(CLEARING_HOUSE).RegisterParticipant(
        registry_service_pb2.RegisterParticipantRequest(participant=auditor)
    )
    at = datetime.now(UTC) - timedelta(minutes=3)
    for operator, device, mode in ((METRO, "metro-gate", 1), (BUS, "bus-gate", 2)):
        gate = RawDevice(device)
        register_device(world, device, gate.public_key, operator, mode)
        submit(world, operator, gate.batch(tap(f"{operator}-tap", "card-1", at=at)))
    world.clearing(CLEARING_HOUSE).CloseCycle(clearing_service_pb2.CloseCycleRequest(close_id="d"))
    return world


def proof(world: World, who: str, tap_id: str) -> A.GetInclusionProofResponse:
    stub = audit_service_pb2_grpc.AuditServiceStub(world.channel(who))
    device = "metro-gate" if tap_id.startswith(METRO) else "bus-gate"
    fare = fare_transfer_id(device, 1, tap_id)
    request = A.GetInclusionProofRequest(transfer_id=fare.bytes)
    return stub.GetInclusionProof(request)


def test_a_scoped_auditor_proves_its_operators_fares_and_no_one_elses(day: World) -> None:
    assert proof(day, SCOPED, f"{METRO}-tap").transfer.user_data == f"{METRO}-tap"
    with pytest.raises(grpc.RpcError) as caught:
        proof(day, SCOPED, f"{BUS}-tap")
    assert code(caught) == grpc.StatusCode.PERMISSION_DENIED
    stub = audit_service_pb2_grpc.AuditServiceStub(day.channel(SCOPED))
    with pytest.raises(grpc.RpcError) as caught:
        list(stub.ExportTransfers(A.ExportTransfersRequest()))
    assert code(caught) == grpc.StatusCode.PERMISSION_DENIED


def test_an_operator_gets_proofs_of_its_own_fares_only(day: World) -> None:
    assert proof(day, BUS, f"{BUS}-tap").leaf_hash
    with pytest.raises(grpc.RpcError) as caught:
        proof(day, BUS, f"{METRO}-tap")
    assert code(caught) == grpc.StatusCode.PERMISSION_DENIED


def test_a_scoped_auditor_sees_only_its_participants_positions(day: World) -> None:
    answer = day.clearing(SCOPED).GetPositions(clearing_service_pb2.GetPositionsRequest())
    assert {p.participant_id for p in answer.cycle.positions} == {METRO}


def test_a_scoped_auditor_may_not_reconcile_other_operators_readers(day: World) -> None:
    line = A.ReaderLogLine(
        tap_id=f"{BUS}-tap", device_id="bus-gate", device_sequence=1, medium_token="card-1",
        direction="on", state="accepted",
    )  # fmt: skip
    line.tapped_at.FromDatetime(datetime.now(UTC))
    stub = audit_service_pb2_grpc.AuditServiceStub(day.channel(SCOPED))
    with pytest.raises(grpc.RpcError) as caught:
        stub.Reconcile(iter([A.ReconcileRequest(lines=[line])]))
    assert code(caught) == grpc.StatusCode.PERMISSION_DENIED


def test_only_an_auditor_has_an_audit_scope(world: World) -> None:
    operator = registry_service_pb2.Participant(
        participant_id="scoped-operator", display_name="X",
        role=common_pb2.PARTICIPANT_ROLE_OPERATOR, settlement_currency="SGD", audit_scope=[METRO],
    )  # fmt: skip
    with pytest.raises(grpc.RpcError) as caught:
        world.registry(CLEARING_HOUSE).RegisterParticipant(
            registry_service_pb2.RegisterParticipantRequest(participant=operator)
        )
    assert code(caught) == grpc.StatusCode.INVALID_ARGUMENT
