"""Finding a NUL anywhere in a request message, by the path a client can fix."""

from __future__ import annotations

from google.protobuf import struct_pb2

from clearing.server._text import first_nul
from farebridge.v1 import audit_service_pb2, registry_service_pb2


def test_clean_messages_have_no_nul() -> None:
    participant = registry_service_pb2.Participant(participant_id="metro", display_name="Metro")
    assert (
        first_nul(registry_service_pb2.RegisterParticipantRequest(participant=participant)) is None
    )
    assert first_nul(audit_service_pb2.ReconcileRequest()) is None


def test_the_first_nul_is_named_by_its_path_through_repeated_messages() -> None:
    line = audit_service_pb2.ReaderLogLine
    request = audit_service_pb2.ReconcileRequest(
        lines=[line(tap_id="t-1"), line(tap_id="t-2", state="acc\x00epted"), line(tap_id="\x00")]
    )
    assert first_nul(request) == "lines[1].state"


def test_repeated_strings_map_keys_and_map_values_are_checked() -> None:
    finding = audit_service_pb2.ReconcileFinding(kind="sequence_gap", examples=["a", "b\x00"])
    assert first_nul(finding) == "examples[1]"
    keyed = struct_pb2.Struct()
    keyed.fields["bad\x00key"].number_value = 1
    assert first_nul(keyed) == "fields['bad\\x00key']"
    valued = struct_pb2.Struct()
    valued.fields["note"].string_value = "x\x00"
    assert first_nul(valued) == "fields['note'].string_value"


def test_bytes_may_hold_nul() -> None:
    medium = registry_service_pb2.Device(device_id="gate-1", public_key=b"\x00" * 32)
    assert first_nul(medium) is None
