"""A reader matches each answer to its tap by position and id, and only a
rejection carries a reason and a detail."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from clearing.ingest import TapOutcome, TapRejectReason, TapStatus
from clearing.server._convert import submit_taps_response
from farebridge.v1 import reader_service_pb2 as rs

outcomes = st.lists(
    st.one_of(
        st.builds(TapOutcome, st.text(min_size=1, max_size=8),
                  st.sampled_from([TapStatus.ACCEPTED, TapStatus.DUPLICATE]),
                  st.none(), st.just("")),
        st.builds(TapOutcome, st.text(min_size=1, max_size=8), st.just(TapStatus.REJECTED),
                  st.sampled_from(list(TapRejectReason)), st.text(min_size=1, max_size=20)),
    ),
    max_size=30,
)  # fmt: skip


@given(outcomes)
def test_every_tap_is_answered_in_order_with_its_reason(given_outcomes) -> None:
    response = submit_taps_response("b-1", given_outcomes)
    assert response.batch_id == "b-1"
    assert [r.tap_id for r in response.results] == [o.tap_id for o in given_outcomes]
    for result, outcome in zip(response.results, given_outcomes, strict=True):
        assert rs.TapStatus.Name(result.status) == f"TAP_STATUS_{outcome.status.name}"
        if outcome.reject_reason is None:
            assert result.reject_reason == rs.TAP_REJECT_REASON_UNSPECIFIED
            assert result.detail == ""
        else:
            name = rs.TapRejectReason.Name(result.reject_reason)
            assert name == f"TAP_REJECT_REASON_{outcome.reject_reason.name}"
            assert result.detail == outcome.detail
