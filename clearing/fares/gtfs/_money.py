"""Currency amounts: GTFS writes decimal strings in the major unit; farebridge
counts integer minor units. The conversion is exact or it is refused.

The exponents come from farebridge's one ISO 4217 table
(``farebridge.codecs.currencies``); a code missing there is refused.
"""

from __future__ import annotations

import re

from farebridge.codecs.currencies import CURRENCY_EXPONENTS

_AMOUNT = re.compile(r"^(-?)(\d+)(?:\.(\d+))?$")


class AmountError(ValueError):
    """Why a currency amount could not be converted; the message says how to
    write it instead."""


class UnknownCurrencyError(AmountError):
    """The currency code is not an active ISO 4217 code in the table above."""


def parse_amount(text: str, currency: str) -> int:
    """Converts ``"2.75"`` USD to 275 minor units, exactly.

    Fewer decimals than the currency's exponent are accepted (``"3"`` USD is
    300): gtfs.org's own published examples write amounts that way. More
    decimals are accepted only when the extra digits are zeros, since anything
    else is not an amount the currency can hold.
    """
    exponent = CURRENCY_EXPONENTS.get(currency)
    if exponent is None:
        raise UnknownCurrencyError(f"{currency!r} is not an ISO 4217 currency this engine knows")
    match = _AMOUNT.match(text.strip())
    if match is None:
        raise AmountError(f"{text!r} is not a decimal amount like 2.75 (use '.' for decimals)")
    sign: str = match.group(1)
    whole: str = match.group(2)
    fraction: str = match.group(3) or ""
    if len(fraction) > exponent and set(fraction[exponent:]) != {"0"}:
        raise AmountError(f"{currency} has {exponent} decimal places; {text!r} has more")
    fraction = fraction[:exponent].ljust(exponent, "0")
    minor: int = int(whole) * 10**exponent + (int(fraction) if fraction else 0)
    return -minor if sign else minor


def decimal_places(text: str) -> int:
    """How many decimals an amount was written with."""
    _, _, fraction = text.strip().partition(".")
    return len(fraction)


def format_minor(minor_units: int, currency: str) -> str:
    """Writes minor units back as the major-unit decimal string GTFS uses:
    465 CAD is ``"4.65"``, 1350 KRW is ``"1350"``."""
    exponent = CURRENCY_EXPONENTS[currency]
    sign = "-" if minor_units < 0 else ""
    whole, fraction = divmod(abs(minor_units), 10**exponent)
    if exponent == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{fraction:0{exponent}d}"
