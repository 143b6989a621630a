"""Signed settlement reports verify, and fail after any change."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clearing.settlement import (
    ReportError,
    report_csv,
    report_json,
    sign_report,
    verify_report,
    verify_report_json,
)
from farebridge.codecs import checkpoint as notes
from farebridge.codecs import generate_device_key
from farebridge.v1 import audit_service_pb2, clearing_service_pb2

KEY = generate_device_key()
HOUSE = "clearing-house"


def _report() -> clearing_service_pb2.SettlementReport:
    origin = f"farebridge/{HOUSE}/ledger"
    root = bytes(range(32))
    note = notes.sign_checkpoint(notes.Checkpoint(origin, 7, root), origin, KEY)
    report = clearing_service_pb2.SettlementReport(
        clearing_house_id=HOUSE, cycle_number=3, close_id="day-3", transfer_count=7,
        positions=[
            clearing_service_pb2.Position(participant_id="metro", currency="SGD",
                                          gross_credit=500, net=500),
            clearing_service_pb2.Position(participant_id="cards", currency="SGD",
                                          gross_debit=500, net=-500),
        ],
        instructions=[
            clearing_service_pb2.SettlementInstruction(
                participant_id="cards", currency="SGD",
                direction=clearing_service_pb2.SETTLEMENT_DIRECTION_PAY_IN, amount=500),
        ],
        checkpoint=audit_service_pb2.Checkpoint(tree_size=7, root_hash=root, signed_note=note),
    )  # fmt: skip
    report.closed_at.FromDatetime(datetime(2026, 5, 5, 3, 0, tzinfo=UTC))
    return report


def test_a_report_verifies_under_the_house_key() -> None:
    signed = sign_report(_report(), KEY)
    assert verify_report(signed, KEY.public_key()) == _report()
    exported = json.dumps(report_json(signed))
    assert verify_report_json(exported, KEY.public_key()).cycle_number == 3
    assert "instruction,cards,SGD" in report_csv(_report())


@given(position=st.integers(0, 10_000), bit=st.integers(0, 7))
def test_any_change_to_the_signed_bytes_fails(position: int, bit: int) -> None:
    signed = sign_report(_report(), KEY)
    data = bytearray(signed.report)
    data[position % len(data)] ^= 1 << bit
    signed.report = bytes(data)
    with pytest.raises(ReportError):
        verify_report(signed, KEY.public_key())


@given(net=st.integers(-(10**12), 10**12).filter(lambda n: n != 500))
def test_any_change_to_the_readable_export_fails(net: int) -> None:
    exported = report_json(sign_report(_report(), KEY))
    exported["report"]["positions"][0]["net"] = str(net)
    with pytest.raises(ReportError):
        verify_report_json(json.dumps(exported), KEY.public_key())


def test_another_key_fails() -> None:
    with pytest.raises(ReportError):
        verify_report(sign_report(_report(), KEY), generate_device_key().public_key())
