"""RegistryService and ClearingService: idempotent registration, role and
ownership checks, cycle closing and position visibility, over real mTLS."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_status import rpc_status

from farebridge.v1 import clearing_service_pb2, common_pb2, registry_service_pb2

from .conftest import (
    AUDITOR,
    BUS,
    BUS_FARE,
    CARDS,
    CLEARING_HOUSE,
    METRO,
    METRO_FARE,
    WALLET,
    RawDevice,
    World,
    admit,
    register_device,
    submit,
    tap,
)

Reg = registry_service_pb2
Clr = clearing_service_pb2


def error_info(error: grpc.RpcError) -> error_details_pb2.ErrorInfo:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None
    info = error_details_pb2.ErrorInfo()
    assert any(detail.Unpack(info) for detail in status.details)
    return info


def code_of(error: pytest.ExceptionInfo[grpc.RpcError]) -> grpc.StatusCode:
    code = error.value.code()  # type: ignore[attr-defined]
    assert isinstance(code, grpc.StatusCode)
    return code


def test_registering_the_same_participant_again_answers_the_original(world: World) -> None:
    admit(world, METRO, common_pb2.PARTICIPANT_ROLE_OPERATOR)  # populate did it once
    listed = world.registry(AUDITOR).ListParticipants(Reg.ListParticipantsRequest())
    assert [p.participant_id for p in listed.participants].count(METRO) == 1


def test_registering_a_participant_with_different_content_names_the_field(world: World) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        admit(world, METRO, common_pb2.PARTICIPANT_ROLE_ISSUER)
    assert code_of(caught) == grpc.StatusCode.ALREADY_EXISTS
    info = error_info(caught.value)
    assert info.reason == "EXISTS_WITH_DIFFERENT_CONTENT"
    assert info.metadata["field"] == "role"


def test_a_bad_currency_is_an_invalid_argument_naming_the_field(world: World) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        admit(world, "newcomer", common_pb2.PARTICIPANT_ROLE_OPERATOR, currency="dollars")
    assert code_of(caught) == grpc.StatusCode.INVALID_ARGUMENT


def test_only_the_clearing_house_admits_participants(world: World) -> None:
    request = Reg.RegisterParticipantRequest(
        participant=Reg.Participant(
            participant_id="rogue",
            display_name="Rogue",
            role=common_pb2.PARTICIPANT_ROLE_OPERATOR,
            settlement_currency="SGD",
        )
    )
    with pytest.raises(grpc.RpcError) as caught:
        world.registry(METRO).RegisterParticipant(request)
    assert code_of(caught) == grpc.StatusCode.PERMISSION_DENIED
    assert error_info(caught.value).reason == "ROLE_NOT_ALLOWED"


def test_an_operator_registers_only_its_own_readers(world: World) -> None:
    device = Reg.Device(
        device_id="bus-1",
        operator_id=BUS,
        public_key=RawDevice("bus-1").public_key,
        stop_id="s",
        mode=common_pb2.TRANSIT_MODE_BUS,
    )
    with pytest.raises(grpc.RpcError) as caught:
        world.registry(METRO).RegisterDevice(Reg.RegisterDeviceRequest(device=device))
    assert code_of(caught) == grpc.StatusCode.PERMISSION_DENIED
    listed = world.registry(BUS).ListDevices(Reg.ListDevicesRequest())
    assert list(listed.devices) == []


def test_an_operator_lists_only_its_own_readers(world: World) -> None:
    register_device(world, "metro-1", RawDevice("metro-1").public_key, METRO, 1)
    register_device(world, "bus-1", RawDevice("bus-1").public_key, BUS, 2)
    mine = world.registry(METRO).ListDevices(Reg.ListDevicesRequest())
    assert [d.device_id for d in mine.devices] == ["metro-1"]
    with pytest.raises(grpc.RpcError) as caught:
        world.registry(METRO).ListDevices(Reg.ListDevicesRequest(operator_id=BUS))
    assert code_of(caught) == grpc.StatusCode.PERMISSION_DENIED
    everyone = world.registry(CLEARING_HOUSE).ListDevices(Reg.ListDevicesRequest())
    assert [d.device_id for d in everyone.devices] == ["bus-1", "metro-1"]


def test_a_medium_belongs_to_one_issuer(world: World) -> None:
    request = Reg.RegisterMediumRequest(medium=Reg.Medium(medium_token="card-1"))
    with pytest.raises(grpc.RpcError) as caught:
        world.registry(WALLET).RegisterMedium(request)
    assert code_of(caught) == grpc.StatusCode.ALREADY_EXISTS
    with pytest.raises(grpc.RpcError) as caught:
        world.registry(METRO).RegisterMedium(request)
    assert code_of(caught) == grpc.StatusCode.PERMISSION_DENIED


def _ride(world: World) -> None:
    metro_gate, bus_gate = RawDevice("metro-gate"), RawDevice("bus-gate")
    register_device(world, "metro-gate", metro_gate.public_key, METRO, 1)
    register_device(world, "bus-gate", bus_gate.public_key, BUS, 2)
    submit(world, METRO, metro_gate.batch(tap("m-1", "card-1"), tap("m-2", "phone-1")))
    submit(world, BUS, bus_gate.batch(tap("b-1", "card-2"), tap("b-2", "card-3")))


def test_closing_a_cycle_yields_positions_that_sum_to_zero(world: World) -> None:
    _ride(world)
    closed = world.clearing(CLEARING_HOUSE).CloseCycle(Clr.CloseCycleRequest(close_id="day-1"))
    nets = {p.participant_id: p.net for p in closed.cycle.positions}
    assert nets == {
        METRO: 2 * METRO_FARE,
        BUS: 2 * BUS_FARE,
        CARDS: -(METRO_FARE + 2 * BUS_FARE),
        WALLET: -METRO_FARE,
    }
    assert sum(nets.values()) == 0
    assert closed.cycle.cycle_number == 1
    assert closed.cycle.transfer_count == 4


def test_closing_is_idempotent_by_close_id_and_clears_each_transfer_once(world: World) -> None:
    _ride(world)
    clearing = world.clearing(CLEARING_HOUSE)
    first = clearing.CloseCycle(Clr.CloseCycleRequest(close_id="day-1"))
    retried = clearing.CloseCycle(Clr.CloseCycleRequest(close_id="day-1"))
    assert retried.cycle == first.cycle
    with pytest.raises(grpc.RpcError) as caught:
        clearing.CloseCycle(Clr.CloseCycleRequest(close_id="day-2"))
    assert code_of(caught) == grpc.StatusCode.FAILED_PRECONDITION
    assert error_info(caught.value).reason == "NOTHING_TO_CLOSE"


def test_a_close_without_an_idempotency_key_is_refused(world: World) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        world.clearing(CLEARING_HOUSE).CloseCycle(Clr.CloseCycleRequest())
    assert code_of(caught) == grpc.StatusCode.INVALID_ARGUMENT


def test_participants_see_only_their_own_positions_and_auditors_all(world: World) -> None:
    _ride(world)
    world.clearing(CLEARING_HOUSE).CloseCycle(Clr.CloseCycleRequest(close_id="day-1"))
    own = world.clearing(BUS).GetPositions(Clr.GetPositionsRequest())
    assert [p.participant_id for p in own.cycle.positions] == [BUS]
    audited = world.clearing(AUDITOR).GetPositions(Clr.GetPositionsRequest(cycle_number=1))
    assert len(audited.cycle.positions) == 4
    with pytest.raises(grpc.RpcError) as caught:
        world.clearing(AUDITOR).CloseCycle(Clr.CloseCycleRequest(close_id="x"))
    assert code_of(caught) == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.RpcError) as caught:
        world.clearing(AUDITOR).GetPositions(Clr.GetPositionsRequest(cycle_number=9))
    assert code_of(caught) == grpc.StatusCode.NOT_FOUND


def test_health_checking_reports_every_service_serving(world: World) -> None:
    health = health_pb2_grpc.HealthStub(world.channel(METRO))
    for service in (
        "",
        "farebridge.v1.ReaderService",
        "farebridge.v1.RegistryService",
        "farebridge.v1.ClearingService",
    ):
        answer = health.Check(health_pb2.HealthCheckRequest(service=service))
        assert answer.status == health_pb2.HealthCheckResponse.SERVING


def test_reflection_lists_the_farebridge_services(world: World) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(world.channel(METRO))
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    (answer,) = list(stub.ServerReflectionInfo(iter([request])))
    names = {s.name for s in answer.list_services_response.service}
    assert {
        "farebridge.v1.ReaderService",
        "farebridge.v1.RegistryService",
        "farebridge.v1.ClearingService",
        "grpc.health.v1.Health",
    } <= names
