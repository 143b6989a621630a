"""Multilateral netting: positions per participant and currency, and the
settlement instructions that discharge them through the clearing house.

Pure functions. Every transfer debits one account and credits another by
the same amount in one currency, so the nets of a cycle sum to zero in each
currency; ``settlement_instructions`` asserts it before anything is posted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum
from typing import NamedTuple

from clearing.ledger import AccountCode, AccountRef, Posting, transfer_id_for
from clearing.values import Currency, Money, ParticipantId


class Position(NamedTuple):
    """A participant's standing in one currency for one cycle, in minor units.

    net: gross_credit - gross_debit; positive means the participant is owed.
    """

    participant_id: ParticipantId
    currency: Currency
    gross_credit: int
    gross_debit: int
    net: int


class Direction(StrEnum):
    PAY_IN = "pay_in"
    """The participant pays into the clearing house's settlement account."""
    PAY_OUT = "pay_out"
    """The clearing house's settlement account pays the participant."""


class Instruction(NamedTuple):
    participant_id: ParticipantId
    currency: Currency
    direction: Direction
    amount: int


Totals = Mapping[tuple[ParticipantId, Currency], int]


def positions(credits: Totals, debits: Totals) -> list[Position]:
    """Gross and net per (participant, currency), sorted."""
    return [
        Position(p, c, credits.get((p, c), 0), debits.get((p, c), 0),
                 credits.get((p, c), 0) - debits.get((p, c), 0))
        for p, c in sorted(credits.keys() | debits.keys())
    ]  # fmt: skip


def net_sums(rows: Iterable[Position]) -> dict[Currency, int]:
    sums: Counter[Currency] = Counter()
    for row in rows:
        sums[row.currency] += row.net
    return dict(sums)


def settlement_instructions(rows: Sequence[Position]) -> list[Instruction]:
    """One instruction per non-zero net: negative nets pay in, positive nets
    are paid out. Raises AssertionError if the nets do not sum to zero."""
    unbalanced = {c: s for c, s in net_sums(rows).items() if s != 0}
    if unbalanced:
        raise AssertionError(f"net positions do not sum to zero: {unbalanced}")
    return [
        Instruction(
            p.participant_id,
            p.currency,
            Direction.PAY_IN if p.net < 0 else Direction.PAY_OUT,
            abs(p.net),
        )
        for p in rows
        if p.net != 0
    ]


def instruction_posting(
    cycle_number: int, instruction: Instruction, house: ParticipantId
) -> Posting:
    """Pay-in: pool → participant's settlement account is credited; pay-out:
    the participant's settlement account is debited into the pool's credit.
    After both, every participant's cycle nets to zero."""
    own = AccountRef(instruction.participant_id, AccountCode.SETTLEMENT, instruction.currency)
    pool = AccountRef(house, AccountCode.SETTLEMENT_POOL, instruction.currency)
    pay_in = instruction.direction is Direction.PAY_IN
    key = f"{cycle_number}\x1f{instruction.participant_id}\x1f{instruction.currency}"
    return Posting(
        transfer_id=transfer_id_for("settlement", key),
        debit=pool if pay_in else own,
        credit=own if pay_in else pool,
        amount=Money(instruction.amount, instruction.currency),
        code="settlement",
        user_data=f"cycle {cycle_number} {instruction.direction.value}",
    )


def settlement_chains(
    cycle_number: int, instructions: Sequence[Instruction], house: ParticipantId
) -> list[list[Posting]]:
    """One linked chain per currency: a currency settles whole or not at all."""
    chains: dict[Currency, list[Posting]] = {}
    for instruction in instructions:
        chains.setdefault(instruction.currency, []).append(
            instruction_posting(cycle_number, instruction, house)
        )
    return [chains[currency] for currency in sorted(chains)]
