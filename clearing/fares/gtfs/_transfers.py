"""Costing a journey's fare legs with fare_transfer_rules.txt.

The legs are processed in order. Between each pair of consecutive fare legs
the transfer rules are filtered by leg group: exact matches first, and only
if there are none, an empty from/to leg group matches every leg group not
listed in that column. No match means no transfer arrangement: the next leg
is paid on its own. Of the rules that match:

* ``transfer_count`` (rules from a leg group to itself) bounds how many
  consecutive transfers under the same rule a sub-journey may make; the rule
  with the smallest count still at least the current count is taken.
* ``duration_limit`` is measured, per ``duration_limit_type``, from the first
  leg of the transfer sub-journey, which for a rule matched several times in
  a row is the leg where its first match began.
* ``fare_transfer_type`` 0 charges A + AB, 1 charges A + AB + B, 2 charges AB
  (replacing A's fare when A was paid on its own; afterwards S + BC).

A transfer whose product has no price for this rider (category, medium)
does not apply to them.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import NamedTuple

from clearing.fares.gtfs._feed import DurationLimitType, FareTransferRule, FareTransferType
from clearing.fares.gtfs._index import FeedIndex
from clearing.fares.gtfs._journey import JourneyQuery
from clearing.fares.gtfs._match import FareLeg, LegMatch, eligible_rows


class ChargeKind(StrEnum):
    LEG = "leg"
    TRANSFER = "transfer"


class FareCharge(NamedTuple):
    """One amount the rider pays: a fare leg's product, or a transfer's.
    ``fare_legs`` are indexes of the effective fare legs it pays for;
    ``fare_product_id`` None is a transfer rule without a product (free)."""

    kind: ChargeKind
    fare_legs: tuple[int, ...]
    fare_product_id: str | None
    amount: int
    currency: str | None


class _Run(NamedTuple):
    """Consecutive matches of one (from, to) leg-group rule: where the
    sub-journey began and how many transfers it has made."""

    groups: tuple[str | None, str | None]
    start: int
    transfers: int


class _Transfer(NamedTuple):
    rule: FareTransferRule
    run: _Run
    amount: int
    currency: str | None


def _group_matches(
    rules: Sequence[FareTransferRule], before: str, after: str
) -> list[FareTransferRule]:
    exact = [r for r in rules if (r.from_leg_group_id, r.to_leg_group_id) == (before, after)]
    if exact:
        return exact
    listed_from = {r.from_leg_group_id for r in rules if r.from_leg_group_id}
    listed_to = {r.to_leg_group_id for r in rules if r.to_leg_group_id}
    return [
        r
        for r in rules
        if (
            r.from_leg_group_id == before
            or (r.from_leg_group_id is None and before not in listed_from)
        )
        and (r.to_leg_group_id == after or (r.to_leg_group_id is None and after not in listed_to))
    ]


def _elapsed(first: FareLeg, last: FareLeg, kind: DurationLimitType) -> int:
    start = (
        first.departure
        if kind
        in (DurationLimitType.DEPARTURE_TO_ARRIVAL, DurationLimitType.DEPARTURE_TO_DEPARTURE)
        else first.arrival
    )
    end = (
        last.arrival
        if kind in (DurationLimitType.DEPARTURE_TO_ARRIVAL, DurationLimitType.ARRIVAL_TO_ARRIVAL)
        else last.departure
    )
    return end - start


def _run_for(rule: FareTransferRule, run: _Run | None, position: int) -> _Run:
    groups = (rule.from_leg_group_id, rule.to_leg_group_id)
    if run is not None and run.groups == groups and run.start + run.transfers == position - 1:
        return _Run(groups, run.start, run.transfers + 1)
    return _Run(groups, position - 1, 1)


def _count_order(rule: FareTransferRule) -> int:
    return rule.transfer_count if rule.transfer_count not in (None, -1) else 1 << 62


def _applicable(rule: FareTransferRule, run: _Run, legs: Sequence[FareLeg], position: int) -> bool:
    if rule.transfer_count not in (None, -1) and run.transfers > rule.transfer_count:
        return False
    if rule.duration_limit is None or rule.duration_limit_type is None:
        return True
    elapsed = _elapsed(legs[run.start], legs[position], rule.duration_limit_type)
    return elapsed <= rule.duration_limit


def _priced(
    index: FeedIndex, query: JourneyQuery, rule: FareTransferRule, run: _Run
) -> _Transfer | None:
    if rule.fare_product_id is None:
        return _Transfer(rule, run, 0, None)
    rows = eligible_rows(index, rule.fare_product_id, query)
    if not rows:
        return None
    cheapest = min(rows, key=lambda row: (row.amount, row.row))
    return _Transfer(rule, run, cheapest.amount, cheapest.currency)


def _transfer(
    index: FeedIndex,
    query: JourneyQuery,
    matches: Sequence[LegMatch],
    position: int,
    run: _Run | None,
) -> _Transfer | None:
    before, after = matches[position - 1].chosen, matches[position].chosen
    if before is None or after is None:
        return None
    if before.rule.leg_group_id is None or after.rule.leg_group_id is None:
        return None
    rules = _group_matches(
        index.feed.fare_transfer_rules, before.rule.leg_group_id, after.rule.leg_group_id
    )
    legs = [match.fare_leg for match in matches]
    options = []
    for rule in rules:
        rule_run = _run_for(rule, run, position)
        if _applicable(rule, rule_run, legs, position):
            priced = _priced(index, query, rule, rule_run)
            if priced is not None:
                options.append(priced)
    if not options:
        return None
    return min(options, key=lambda t: (_count_order(t.rule), t.amount, t.rule.row))


def _leg_charge(matches: Sequence[LegMatch], position: int) -> FareCharge:
    chosen = matches[position].chosen
    assert chosen is not None, "only priced legs are charged"
    product = chosen.product
    return FareCharge(
        ChargeKind.LEG, (position,), product.fare_product_id, product.amount, product.currency
    )


def cost_journey(
    index: FeedIndex, query: JourneyQuery, matches: Sequence[LegMatch]
) -> list[FareCharge]:
    """The charges for a journey whose every fare leg has a chosen product."""
    charges: list[FareCharge | None] = [_leg_charge(matches, 0)]
    paid_alone = {0: 0}  # fare legs not reached by a transfer -> their charge
    run: _Run | None = None
    for position in range(1, len(matches)):
        transfer = _transfer(index, query, matches, position, run)
        run = transfer.run if transfer else None
        if transfer is None:
            paid_alone[position] = len(charges)
            charges.append(_leg_charge(matches, position))
            continue
        kind = transfer.rule.fare_transfer_type
        if kind is FareTransferType.AB and position - 1 in paid_alone:
            charges[paid_alone.pop(position - 1)] = None  # AB replaces A
        rule = transfer.rule
        legs = (position - 1, position)
        charges.append(
            FareCharge(
                ChargeKind.TRANSFER, legs, rule.fare_product_id, transfer.amount, transfer.currency
            )
        )
        if kind is FareTransferType.A_PLUS_AB_PLUS_B:
            charges.append(_leg_charge(matches, position))
    return [charge for charge in charges if charge is not None]
