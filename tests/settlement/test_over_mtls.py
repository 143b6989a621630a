"""Settlement over the real server and mTLS, on both databases: FX at the
published rate, clearing fees, add-value at a service provider, settlement
instructions and the signed report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import grpc
import pytest

from clearing.pki import load_signing_key
from clearing.settlement import verify_report
from farebridge.v1 import clearing_service_pb2, common_pb2
from tests.integration.conftest import (
    BUS,
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

Clr = clearing_service_pb2
RAPIDKL = "metro-co"  # a Malaysian operator: fares in MYR
RAPIDKL_FARE = 250  # MYR cents
RATE = "0.2953"  # SGD per MYR


def _malaysian_gate(world: World) -> RawDevice:
    admit(world, RAPIDKL, common_pb2.PARTICIPANT_ROLE_OPERATOR, "MYR")
    fare = Clr.FlatFare(
        operator_id=RAPIDKL,
        mode=common_pb2.TRANSIT_MODE_METRO,
        fare=common_pb2.Money(minor_units=RAPIDKL_FARE, currency="MYR"),
    )
    world.clearing(CLEARING_HOUSE).SetFlatFare(Clr.SetFlatFareRequest(flat_fare=fare))
    gate = RawDevice("kl-gate")
    register_device(world, gate.device_id, gate.public_key, RAPIDKL, 1)
    return gate


def _nets(cycle: Clr.Cycle) -> dict[tuple[str, str], int]:
    return {(p.participant_id, p.currency): p.net for p in cycle.positions}


def test_a_sgd_rider_pays_a_myr_fare_through_fx_at_the_published_rate(world: World) -> None:
    gate = _malaysian_gate(world)
    submit(world, RAPIDKL, gate.batch(tap("kl-0", "card-1")))  # no rate yet: unpriced
    published = world.clearing(CLEARING_HOUSE).PublishFxRates(
        Clr.PublishFxRatesRequest(
            rates=[Clr.FxRate(from_currency="MYR", to_currency="SGD", rate=RATE)]
        )
    )
    assert published.cycle_number == 1
    submit(world, RAPIDKL, gate.batch(tap("kl-1", "card-1", sequence=2)))
    cycle = world.clearing(CLEARING_HOUSE).CloseCycle(Clr.CloseCycleRequest(close_id="d1")).cycle
    sgd = 74  # 250 * 0.2953 = 73.825, rounded half up
    assert _nets(cycle) == {
        (RAPIDKL, "MYR"): RAPIDKL_FARE,
        (CLEARING_HOUSE, "MYR"): -RAPIDKL_FARE,
        (CLEARING_HOUSE, "SGD"): sgd,
        (CARDS, "SGD"): -sgd,
    }
    instructions = {
        (i.participant_id, i.currency): (i.direction, i.amount) for i in cycle.instructions
    }
    assert instructions[(CARDS, "SGD")] == (Clr.SETTLEMENT_DIRECTION_PAY_IN, sgd)
    assert instructions[(RAPIDKL, "MYR")] == (Clr.SETTLEMENT_DIRECTION_PAY_OUT, RAPIDKL_FARE)


def test_a_published_rate_never_changes_within_its_cycle(world: World) -> None:
    clearing = world.clearing(CLEARING_HOUSE)
    rate = Clr.FxRate(from_currency="MYR", to_currency="SGD", rate=RATE)
    clearing.PublishFxRates(Clr.PublishFxRatesRequest(rates=[rate]))
    clearing.PublishFxRates(Clr.PublishFxRatesRequest(rates=[rate]))
    rate.rate = "0.3"
    with pytest.raises(grpc.RpcError) as caught:
        clearing.PublishFxRates(Clr.PublishFxRatesRequest(rates=[rate]))
    assert caught.value.code() == grpc.StatusCode.ALREADY_EXISTS


def test_fees_top_ups_and_instructions_settle_every_participant(world: World) -> None:
    clearing = world.clearing(CLEARING_HOUSE)
    schedule = Clr.FeeSchedule(
        participant_id=METRO, currency="SGD", basis_points=150, per_transaction_minor=1
    )
    clearing.SetFeeSchedule(Clr.SetFeeScheduleRequest(schedule=schedule))
    gate = RawDevice("metro-gate")
    register_device(world, gate.device_id, gate.public_key, METRO, 1)
    submit(world, METRO, gate.batch(tap("m-1", "card-1"), tap("m-2", "phone-1", sequence=2)))
    top_up = Clr.AgentTopUp(
        top_up_id="tvm-7",
        medium_token="phone-2",
        amount=common_pb2.Money(minor_units=1000, currency="SGD"),
    )
    answer = world.clearing(METRO).RecordAgentTopUp(Clr.RecordAgentTopUpRequest(top_up=top_up))
    assert (answer.top_up.operator_id, answer.top_up.issuer_id) == (METRO, WALLET)
    world.clearing(METRO).RecordAgentTopUp(Clr.RecordAgentTopUpRequest(top_up=top_up))  # a retry
    with pytest.raises(grpc.RpcError) as caught:
        world.clearing(BUS).PublishFxRates(Clr.PublishFxRatesRequest())
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    cycle = clearing.CloseCycle(Clr.CloseCycleRequest(close_id="d1")).cycle
    fee = 6 + 2  # 1.5% of 380 = 5.7 → 6, plus 1 per fare
    assert _nets(cycle) == {
        (METRO, "SGD"): 2 * METRO_FARE - fee - 1000,
        (CARDS, "SGD"): -METRO_FARE,
        (WALLET, "SGD"): -METRO_FARE + 1000,
        (CLEARING_HOUSE, "SGD"): fee,
    }
    assert sum(p.net for p in cycle.positions) == 0
    paid_in = sum(
        i.amount for i in cycle.instructions if i.direction == Clr.SETTLEMENT_DIRECTION_PAY_IN
    )
    paid_out = sum(
        i.amount for i in cycle.instructions if i.direction == Clr.SETTLEMENT_DIRECTION_PAY_OUT
    )
    assert paid_in == paid_out > 0

    signed = world.clearing(BUS).GetSettlementReport(Clr.GetSettlementReportRequest()).report
    report = verify_report(signed, load_signing_key(world.pki).public_key())
    assert report.cycle_number == 1
    assert report.checkpoint.tree_size >= cycle.transfer_count
    assert list(report.positions) == list(cycle.positions)
    own = world.clearing(CARDS).GetPositions(Clr.GetPositionsRequest()).cycle
    assert [i.participant_id for i in own.instructions] == [CARDS]


def _farebridge(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "clearing", *args], capture_output=True, text=True, check=False
    )


def test_the_cli_exports_a_report_that_verifies_offline_and_fails_when_edited(
    world: World, tmp_path: Path
) -> None:
    gate = RawDevice("metro-gate")
    register_device(world, gate.device_id, gate.public_key, METRO, 1)
    submit(world, METRO, gate.batch(tap("m-1", "card-1")))
    world.clearing(CLEARING_HOUSE).CloseCycle(Clr.CloseCycleRequest(close_id="d1"))
    pki_dir = str(world.pki.directory)
    exported = tmp_path / "cycle-1.json"
    made = _farebridge(
        "clearing", "report", "--db", world.database_url, "--pki", pki_dir, "--cycle", "1",
        "--json", "-o", str(exported),
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert _farebridge("clearing", "verify-report", str(exported), "--pki", pki_dir).returncode == 0
    csv_text = _farebridge(
        "clearing", "report", "--db", world.database_url, "--pki", pki_dir, "--csv"
    )
    assert "instruction,cards,SGD" in csv_text.stdout
    data = json.loads(exported.read_text())
    data["report"]["positions"][0]["net"] = "1"
    exported.write_text(json.dumps(data))
    refused = _farebridge("clearing", "verify-report", str(exported), "--pki", pki_dir)
    assert refused.returncode == 1
    assert "Traceback" not in refused.stderr
