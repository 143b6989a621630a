"""A tap's content digest is how a repeated upload is told from a conflicting
one, and digests stored by earlier releases are compared with new uploads:
it must never change. Validation reads a reader's timestamp the short way
and hashes as it goes; both must agree with the definitions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import example, given
from hypothesis import strategies as st

from clearing.ingest._batch import MAX_CLOCK_SKEW, _instant, _Valid, _validate, content_digest
from clearing.ingest._outcomes import TapOutcome, TapRejectReason
from clearing.values import Device, Direction, Mode, Tap
from farebridge.v1 import common_pb2, tap_pb2

TAP = Tap(
    "gate-7-42", "gate-7", "metro-co", 42,
    datetime(2026, 3, 2, 8, 15, 30, 123456, tzinfo=UTC), "card-9", Direction.OFF,
)  # fmt: skip
DEVICE = Device("gate-7", "metro-co", b"k" * 32, "stop-7", Mode.METRO)
# A server clock under which every stamp a datetime can hold is on time.
LATE = datetime.max.replace(tzinfo=UTC) - MAX_CLOCK_SKEW

# Each stored by an earlier release; a new upload of the same tap must match.
GOLDEN = [
    (TAP, "c7f0e555f5504642927d53f516cef46c5fb2797652abe449fd0632fe7417bbe4"),
    (
        TAP._replace(card_debit=bytes.fromhex("00112233"), direction=Direction.ON),
        "2739d9ab02132d57f55ee6e2b962b17445b430d352e342e74ab7605a3f4a3958",
    ),
    (
        TAP._replace(
            ride_code="FB1.abc", tapped_at=datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
        ),
        "9a8f7ee3f0f62fe1adf2bc5c8799e6c1f390e89180591204797dbe8813a94385",
    ),
]

seconds = st.integers(min_value=-62_135_596_800, max_value=253_402_300_799)
nanos = st.integers(min_value=0, max_value=999_999_999)


@pytest.mark.parametrize(("tap", "digest"), GOLDEN)
def test_digests_stored_by_earlier_releases_still_match(tap: Tap, digest: str) -> None:
    assert content_digest(tap).hex() == digest


@given(seconds, nanos)
def test_a_stamp_reads_as_the_instant_protobuf_converts_it_to(s: int, n: int) -> None:
    stamp = Timestamp(seconds=s, nanos=n)
    instant, micros = _instant(stamp)
    expected = stamp.ToDatetime(tzinfo=UTC)
    assert instant == expected
    assert instant.utcoffset() == expected.utcoffset()
    assert micros == s * 1_000_000 + n // 1000


@pytest.mark.parametrize("stamp", [Timestamp(seconds=253_402_300_800), Timestamp(nanos=-1)])
def test_a_stamp_no_instant_can_hold_is_refused_as_protobuf_refuses_it(stamp: Timestamp) -> None:
    with pytest.raises(ValueError, match="Timestamp is not valid"):
        _instant(stamp)


@given(
    seconds,
    nanos,
    st.integers(min_value=0, max_value=2**64 - 1),
    st.sampled_from([common_pb2.TAP_DIRECTION_ON, common_pb2.TAP_DIRECTION_OFF]),
    st.one_of(st.none(), st.binary(max_size=40).map(lambda b: ("card_debit", b)),
              st.text(max_size=40).map(lambda t: ("ride_code", t))),
)  # fmt: skip
@example(253_402_300_799, 999_999_999, 2**64 - 1, common_pb2.TAP_DIRECTION_OFF, None)
@example(-62_135_596_800, 0, 0, common_pb2.TAP_DIRECTION_ON, ("ride_code", ""))
def test_validation_hashes_a_tap_as_content_digest_defines(s, n, sequence, direction, proof):
    message = tap_pb2.Tap(
        tap_id="t-1", device_sequence=sequence, medium_token="card-1", direction=direction
    )
    message.tapped_at.FromSeconds(0)
    message.tapped_at.seconds, message.tapped_at.nanos = s, n
    if proof is not None:
        setattr(message, *proof)
    valid = _validate(message, DEVICE, LATE)
    assert isinstance(valid, _Valid)
    assert valid.digest == content_digest(valid.tap)
    assert valid.tap.tapped_at == message.tapped_at.ToDatetime(tzinfo=UTC)


def test_a_tap_from_the_future_is_still_refused() -> None:
    message = tap_pb2.Tap(
        tap_id="t-1", device_sequence=1, medium_token="card-1",
        direction=common_pb2.TAP_DIRECTION_ON,
    )  # fmt: skip
    message.tapped_at.FromDatetime(datetime(2026, 3, 2, 9, tzinfo=UTC))
    outcome = _validate(message, DEVICE, datetime(2026, 3, 2, 8, 50, tzinfo=UTC))
    assert isinstance(outcome, TapOutcome)
    assert outcome.reject_reason is TapRejectReason.FUTURE_TIME
