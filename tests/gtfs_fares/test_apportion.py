"""The largest-remainder splitter: shares sum exactly, never take the wrong
sign, are deterministic, and stay within one minor unit of the exact share."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clearing.fares.gtfs import split

amounts = st.integers(min_value=-(10**9), max_value=10**9)
weights = st.dictionaries(
    st.text(alphabet="abcdefgh", min_size=1, max_size=3),
    st.integers(min_value=0, max_value=10**6),
    min_size=1,
    max_size=6,
).filter(lambda w: sum(w.values()) > 0)


@given(amounts, weights)
def test_shares_sum_exactly(amount: int, weights: dict[str, int]) -> None:
    assert sum(split(amount, weights).values()) == amount


@given(amounts, weights)
def test_shares_carry_the_sign_of_the_amount(amount: int, weights: dict[str, int]) -> None:
    shares = split(amount, weights).values()

    assert all(share * amount >= 0 for share in shares)
    assert all(share == 0 for share in shares) or amount != 0


@given(amounts, weights)
def test_shares_are_within_one_minor_unit_of_the_exact_proportion(
    amount: int, weights: dict[str, int]
) -> None:
    total = sum(weights.values())
    for key, share in split(amount, weights).items():
        assert abs(share - Fraction(amount * weights[key], total)) < 1


@given(amounts, weights)
def test_the_split_does_not_depend_on_the_order_of_the_weights(
    amount: int, weights: dict[str, int]
) -> None:
    reversed_weights = dict(reversed(list(weights.items())))

    assert split(amount, weights) == split(amount, reversed_weights)


def test_ties_go_to_the_smaller_operator_id() -> None:
    assert split(100, {"b": 1, "a": 1, "c": 1}) == {"a": 34, "b": 33, "c": 33}


@pytest.mark.parametrize("bad", [{}, {"a": 0}, {"a": -1, "b": 2}])
def test_weights_must_leave_something_to_split_by(bad: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="weight"):
        split(100, bad)
