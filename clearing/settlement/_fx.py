"""Foreign exchange at the cycle's published rate, through the clearing
house's FX accounts.

A rate is published for the open cycle and stays in force until a later
cycle publishes another for the same pair; once published for a cycle it
never changes, so every conversion in that cycle used the same number.
Rates are exact decimals. A converted amount is rounded half up (half away
from zero) to a whole minor unit of the target currency, once per transfer.

A fare in MYR paid from SGD funds becomes a linked pair of transfers:
rider (SGD) → clearing house FX (SGD), and clearing house FX (MYR) →
operator (MYR). Each currency balances on its own; the clearing house's FX
accounts carry the exchange.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from clearing.errors import ConflictError, InvalidRequestError, NotFoundError
from clearing.ledger import AccountCode, AccountRef, Posting, transfer_id_for
from clearing.storage.models import ClearingCycleRow, FxRateRow, ParticipantRow
from clearing.values import Currency, Money, ParticipantId, Role, check_currency
from farebridge.codecs.currencies import CURRENCY_EXPONENTS

MAX_RATE_CHARACTERS = 40

FxRates = Mapping[tuple[Currency, Currency], "FxRate"]


class FxRate(NamedTuple):
    """One major unit of ``from_currency`` is worth ``rate`` major units of
    ``to_currency``; ``rate`` is exact (a Decimal, never a float).

    cycle_number: the cycle it was published for.
    """

    from_currency: Currency
    to_currency: Currency
    rate: Decimal
    cycle_number: int = 0


def parse_rate(text: str) -> Decimal:
    """A positive, finite decimal rate such as ``"0.2953"``; anything else is an
    InvalidRequestError (floats are not accepted: their digits are not exact)."""
    try:
        rate = Decimal(text)
    except InvalidOperation:
        rate = Decimal(0)
    if len(text) > MAX_RATE_CHARACTERS or not rate.is_finite() or rate <= 0:
        raise InvalidRequestError(
            f"a rate is a positive decimal of at most {MAX_RATE_CHARACTERS} characters, "
            f"not {text!r}",
            field="rate",
        )
    return rate


def _exponent(currency: Currency) -> int:
    exponent = CURRENCY_EXPONENTS.get(currency)
    if exponent is None:
        raise InvalidRequestError(f"{currency} is not an ISO 4217 currency", field="currency")
    return exponent


def round_half_up(value: Fraction) -> int:
    """The nearest integer; halves go away from zero (2.5 → 3, -2.5 → -3)."""
    magnitude = (2 * abs(value.numerator) + value.denominator) // (2 * value.denominator)
    return magnitude if value >= 0 else -magnitude


def convert(amount: Money, rate: FxRate) -> Money:
    """``amount`` (in ``rate.from_currency``) in ``rate.to_currency``, exact up
    to the final rounding half up to a whole minor unit."""
    if amount.currency != rate.from_currency:
        raise ValueError(f"{amount} is not in {rate.from_currency}")
    shift = _exponent(rate.to_currency) - _exponent(rate.from_currency)
    exact = Fraction(amount.minor_units) * Fraction(rate.rate) * Fraction(10) ** shift
    return Money(round_half_up(exact), rate.to_currency)


def open_cycle_number(session: Session) -> int:
    """The number the next closed cycle will carry."""
    return int(session.scalar(select(func.max(ClearingCycleRow.cycle_number))) or 0) + 1


def rates_in_force(
    session: Session, cycle_number: int | None = None
) -> dict[tuple[str, str], FxRate]:
    """Per (from, to) pair, the rate published for the newest cycle up to
    ``cycle_number`` (default: the open cycle)."""
    upto = open_cycle_number(session) if cycle_number is None else cycle_number
    rows = session.scalars(
        select(FxRateRow).where(FxRateRow.cycle_number <= upto).order_by(FxRateRow.cycle_number)
    )
    return {
        (r.from_currency, r.to_currency): FxRate(
            r.from_currency, r.to_currency, Decimal(r.rate), r.cycle_number
        )
        for r in rows
    }


def publish_rates(session: Session, rates: Iterable[FxRate], now: datetime) -> list[FxRate]:
    """Publishes rates for the open cycle. Publishing the same rate again is
    harmless; a different rate for a pair already published for this cycle
    is a ConflictError, because conversions may already have used it."""
    cycle = open_cycle_number(session)
    published = []
    for wanted in rates:
        check_currency(wanted.from_currency)
        check_currency(wanted.to_currency)
        _exponent(wanted.from_currency), _exponent(wanted.to_currency)
        if wanted.from_currency == wanted.to_currency:
            raise InvalidRequestError("a rate converts between two currencies", field="rate")
        key = (cycle, wanted.from_currency, wanted.to_currency)
        stored = session.get(FxRateRow, key)
        if stored is None:
            session.add(
                FxRateRow(
                    cycle_number=cycle,
                    from_currency=wanted.from_currency,
                    to_currency=wanted.to_currency,
                    rate=str(wanted.rate),
                    published_at=now,
                )
            )
            session.flush()
        elif Decimal(stored.rate) != wanted.rate:
            raise ConflictError(
                f"cycle {cycle} already has {stored.rate} for {key[1]}→{key[2]}; "
                "a published rate never changes",
                field="rate",
            )
        published.append(wanted._replace(cycle_number=cycle))
    return published


def clearing_house_id(session: Session) -> ParticipantId:
    """The admitted clearing house, which owns the FX, fee and settlement accounts."""
    house = session.scalar(
        select(ParticipantRow.participant_id)
        .where(ParticipantRow.role == Role.CLEARING_HOUSE.value)
        .order_by(ParticipantRow.participant_id)
        .limit(1)
    )
    if house is None:
        raise NotFoundError("no clearing house is admitted; start the server once to admit it")
    return house


def bridge(posting: Posting, other: Money, house: ParticipantId) -> list[Posting]:
    """Splits ``posting`` between accounts in two currencies into a chain
    through the clearing house's FX accounts.

    ``posting.amount`` is in the currency of one of its accounts, and keeps
    ``posting.transfer_id``; ``other`` is the converted amount in the other
    account's currency (a derived id). A leg that rounds to zero is left out.
    """
    into_fx = AccountRef(house, AccountCode.FX, posting.debit.currency)
    out_of_fx = AccountRef(house, AccountCode.FX, posting.credit.currency)
    derived = transfer_id_for("fx_leg", str(posting.transfer_id))
    if posting.amount.currency == posting.debit.currency:
        (debit_id, debit_amount), (credit_id, credit_amount) = (
            (posting.transfer_id, posting.amount),
            (derived, other),
        )
    else:
        (debit_id, debit_amount), (credit_id, credit_amount) = (
            (derived, other),
            (posting.transfer_id, posting.amount),
        )
    legs = [
        posting._replace(transfer_id=debit_id, credit=into_fx, amount=debit_amount),
        posting._replace(transfer_id=credit_id, debit=out_of_fx, amount=credit_amount),
    ]
    return [leg for leg in legs if leg.amount.minor_units > 0]
