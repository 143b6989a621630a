"""National QR schemes layered on EMVCo: PayNow (Singapore, inside SGQR),
PromptPay (Thailand) and DuitNow (Malaysia).

A scheme is recognised by the globally unique identifier (sub-object 00) of a
merchant account template (26-51). Its rules are small functions returning
``Violation`` values, as EMVCo's own are, so a decoder shows a code that
breaks a national rule instead of refusing it. The rules are those a payer's
app needs to route a payment correctly: the proxy's shape, the currency and
country the scheme settles in.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import date, datetime
from typing import Literal, NamedTuple

from farebridge.codecs._emvco_errors import BadArgumentError, Violation
from farebridge.codecs._emvco_payload import (
    AMOUNT,
    COUNTRY,
    CURRENCY,
    TEMPLATE_ACCOUNT_IDS,
    MpmPayload,
    build_payload,
    parse_payload,
    raise_first,
)
from farebridge.codecs._emvco_tlv import Template

PAYNOW_GUID = "SG.PAYNOW"
PROMPTPAY_TRANSFER_AID = "A000000677010111"
"""PromptPay credit transfer (merchant presented), carried in template 29."""
PROMPTPAY_BILL_AID = "A000000677010112"
"""PromptPay domestic bill payment, carried in template 30."""
DUITNOW_AID = "A0000006150001"
"""PayNet's application identifier for DuitNow QR, carried in template 26."""

ProfileRules = Callable[[MpmPayload, str, Template], Iterator[Violation]]


class Profile(NamedTuple):
    """A national scheme: its ``name``, the identifiers that announce it, the
    numeric ``currency`` and ``country`` it settles in, and its ``rules``,
    called with the payload, the template's id and the template."""

    name: str
    identifiers: frozenset[str]
    currency: str
    country: str
    rules: ProfileRules


def _settlement(payload: MpmPayload, profile: Profile) -> Iterator[Violation]:
    currency, country = payload.text(CURRENCY), payload.text(COUNTRY)
    if currency != profile.currency:
        yield Violation(
            "wrong_currency",
            f"{profile.name} settles in currency {profile.currency}, not {currency}",
            CURRENCY,
        )
    if country != profile.country:
        yield Violation(
            "wrong_country",
            f"{profile.name} is a scheme of country {profile.country}, not {country}",
            COUNTRY,
        )


def _required(template: Template, tag: str, sub: str, name: str) -> Iterator[Violation]:
    if sub not in template:
        yield Violation("missing_tag", f"the {name} ({tag}.{sub}) is missing", f"{tag}.{sub}")


def _shape(template: Template, tag: str, sub: str, pattern: str, what: str) -> Iterator[Violation]:
    value = template.get(sub)
    if value is not None and not re.fullmatch(pattern, value):
        yield Violation("bad_proxy", f"{tag}.{sub} = {value!r} is not {what}", f"{tag}.{sub}")


# --- PayNow ---------------------------------------------------------------------

_PAYNOW_MOBILE = r"\+65[0-9]{8}"
_UEN = r"[0-9]{8}[A-Z]|[0-9]{9}[A-Z]|[ST][0-9]{2}[A-Z]{2}[0-9]{4}[A-Z]"
"""Singapore's three UEN forms: businesses, local companies, other entities."""


def _paynow(payload: MpmPayload, tag: str, account: Template) -> Iterator[Violation]:
    yield from _required(account, tag, "01", "PayNow proxy type")
    yield from _required(account, tag, "02", "PayNow proxy value")
    yield from _required(account, tag, "03", "PayNow editable-amount flag")
    kind = account.get("01")
    if kind == "0":
        yield from _shape(account, tag, "02", _PAYNOW_MOBILE, "a mobile number like +6591234567")
    elif kind == "2":
        yield from _shape(account, tag, "02", _UEN, "a Singapore UEN")
    elif kind is not None:
        yield Violation(
            "bad_proxy", f"PayNow proxy type {tag}.01 is {kind!r}; '0' mobile or '2' UEN", tag
        )
    yield from _paynow_amount(payload, tag, account)


def _paynow_amount(payload: MpmPayload, tag: str, account: Template) -> Iterator[Violation]:
    editable, expiry = account.get("03"), account.get("04")
    if editable not in (None, "0", "1"):
        yield Violation("bad_format", f"{tag}.03 is {editable!r}; '0' fixed or '1' editable", tag)
    if editable == "0" and AMOUNT not in payload.tags:
        yield Violation(
            "amount_required", f"{tag}.03 fixes the amount but no amount (54) is given", AMOUNT
        )
    if expiry is not None and _expiry_date(expiry) is None:
        yield Violation(
            "bad_format", f"expiry {tag}.04 = {expiry!r} is not a date YYYYMMDD", f"{tag}.04"
        )


def _expiry_date(text: str) -> date | None:
    """YYYYMMDD as specified; YYYYMMDDhhmmss as some banks write it."""
    for shape in ("%Y%m%d", "%Y%m%d%H%M%S"):
        try:
            return datetime.strptime(text, shape).date()
        except ValueError:
            continue
    return None


# --- PromptPay ------------------------------------------------------------------

_PROMPTPAY_PROXIES = {
    "01": (r"0066[0-9]{9}", "a mobile number 0066 and nine digits"),
    "02": (r"[0-9]{13}", "a 13-digit national ID or tax ID"),
    "03": (r"[0-9]{15}", "a 15-digit e-wallet ID"),
    "04": (r"[0-9A-Za-z]{1,43}", "a bank account of at most 43 characters"),
}


def _promptpay(payload: MpmPayload, tag: str, account: Template) -> Iterator[Violation]:
    if account["00"].upper() == PROMPTPAY_BILL_AID:
        yield from _promptpay_bill(tag, account)
        return
    if tag != "29":
        yield Violation("misplaced_tag", f"PromptPay transfers belong in 29, not {tag}", tag)
    proxies = [sub for sub in _PROMPTPAY_PROXIES if sub in account]
    if not proxies:
        yield Violation("missing_tag", f"template {tag} names no PromptPay proxy (01-04)", tag)
    if len(proxies) > 1:
        yield Violation(
            "ambiguous_proxy", f"template {tag} names {len(proxies)} proxies; give one", tag
        )
    for sub in proxies:
        yield from _shape(account, tag, sub, *_PROMPTPAY_PROXIES[sub])


def _promptpay_bill(tag: str, account: Template) -> Iterator[Violation]:
    if tag != "30":
        yield Violation("misplaced_tag", f"PromptPay bill payments belong in 30, not {tag}", tag)
    yield from _required(account, tag, "01", "biller ID")
    yield from _required(account, tag, "02", "reference 1")
    yield from _shape(account, tag, "01", r"[0-9]{15}", "a 15-digit biller ID")
    yield from _shape(account, tag, "02", r"[0-9A-Z]{1,20}", "1-20 upper-case letters or digits")
    yield from _shape(account, tag, "03", r"[0-9A-Z]{1,20}", "1-20 upper-case letters or digits")


# --- DuitNow --------------------------------------------------------------------


def _duitnow(payload: MpmPayload, tag: str, account: Template) -> Iterator[Violation]:
    if tag != "26":
        yield Violation("misplaced_tag", f"DuitNow belongs in template 26, not {tag}", tag)
    yield from _required(account, tag, "01", "DuitNow participant code")
    yield from _required(account, tag, "02", "DuitNow merchant account")
    yield from _shape(account, tag, "01", r"[0-9]{6}", "a six-digit participant code")


PROFILES: tuple[Profile, ...] = (
    Profile("paynow", frozenset({PAYNOW_GUID}), "702", "SG", _paynow),
    Profile(
        "promptpay",
        frozenset({PROMPTPAY_TRANSFER_AID, PROMPTPAY_BILL_AID}),
        "764",
        "TH",
        _promptpay,
    ),
    Profile("duitnow", frozenset({DUITNOW_AID}), "458", "MY", _duitnow),
)
"""The schemes farebridge recognises; the first whose identifier appears wins."""


def _as_payload(payload: MpmPayload | str) -> MpmPayload:
    return payload if isinstance(payload, MpmPayload) else parse_payload(payload, strict=False)


def _detect(payload: MpmPayload) -> tuple[Profile, str, Template] | None:
    for tag in TEMPLATE_ACCOUNT_IDS:
        account = payload.template(tag)
        identifier = (account or {}).get("00", "").upper()
        for profile in PROFILES:
            if account is not None and identifier in profile.identifiers:
                return profile, tag, account
    return None


def detect_profile(payload: MpmPayload | str) -> str | None:
    """``"paynow"``, ``"promptpay"`` or ``"duitnow"``: the scheme of the lowest
    merchant account template whose identifier farebridge knows; None when none."""
    detected = _detect(_as_payload(payload))
    return detected[0].name if detected else None


def profile_violations(payload: MpmPayload | str) -> list[Violation]:
    """Every rule of the detected scheme the payload breaks; empty when it
    conforms or belongs to no scheme farebridge knows."""
    read = _as_payload(payload)
    detected = _detect(read)
    if detected is None:
        return []
    profile, tag, account = detected
    return [*profile.rules(read, tag, account), *_settlement(read, profile)]


def _checked(text: str) -> str:
    raise_first(profile_violations(parse_payload(text)))
    return text


# --- builders -------------------------------------------------------------------


def build_paynow(
    proxy_type: Literal["mobile", "uen"],
    proxy_value: str,
    *,
    amount_minor: int | None = None,
    editable: bool = True,
    expiry: date | None = None,
    merchant_name: str = "NA",
    merchant_city: str = "Singapore",
    reference: str | None = None,
) -> str:
    """A PayNow code: to a mobile number (``"+6591234567"``) or a UEN.

    ``amount_minor`` in cents makes the code dynamic; ``editable`` lets the
    payer change it; ``expiry`` is the last day the code may be paid;
    ``reference`` becomes the bill number (62.01) the payee's bank reports.
    ``merchant_name`` defaults to "NA", as banks' own PayNow codes do when the
    payee's name is not to be shown. Raises the ``EmvcoError`` of the first
    EMVCo or PayNow rule the result would break.
    """
    kinds = {"mobile": "0", "uen": "2"}
    if proxy_type not in kinds:
        raise BadArgumentError(f"PayNow proxy type is 'mobile' or 'uen', not {proxy_type!r}")
    account = {"00": PAYNOW_GUID, "01": kinds[proxy_type], "02": proxy_value}
    account["03"] = "1" if editable else "0"
    if expiry is not None:
        account["04"] = expiry.strftime("%Y%m%d")
    return _build(
        account,
        "26",
        currency="SGD",
        country="SG",
        amount_minor=amount_minor,
        merchant_name=merchant_name,
        merchant_city=merchant_city,
        reference=reference,
    )


def _build(
    account: Template,
    tag: str,
    *,
    currency: str,
    country: str,
    amount_minor: int | None,
    merchant_name: str,
    merchant_city: str,
    reference: str | None,
) -> str:
    text = build_payload(
        merchant_accounts={tag: account},
        merchant_name=merchant_name,
        merchant_city=merchant_city,
        country=country,
        currency=currency,
        amount_minor=amount_minor,
        additional_data=None if reference is None else {"01": reference},
    )
    return _checked(text)


_PROMPTPAY_KINDS = {"mobile": "01", "national_id": "02", "tax_id": "02", "ewallet": "03"}


def promptpay_mobile(number: str) -> str:
    """A Thai mobile number as PromptPay writes it: ``"081-234-5678"`` and
    ``"+66 81 234 5678"`` both become ``"0066812345678"``."""
    digits = re.sub(r"[^0-9]", "", number)
    if digits.startswith("0") and len(digits) == 10:
        digits = "66" + digits[1:]
    return digits.rjust(13, "0")


def build_promptpay(
    proxy_type: Literal["mobile", "national_id", "tax_id", "ewallet"],
    proxy_value: str,
    *,
    amount_minor: int | None = None,
    merchant_name: str = "NA",
    merchant_city: str = "Bangkok",
    reference: str | None = None,
) -> str:
    """A PromptPay credit-transfer code (template 29) to a mobile number, a
    national or tax ID (13 digits) or an e-wallet (15 digits). Dashes and
    spaces in the proxy are ignored; amounts are in satang."""
    if proxy_type not in _PROMPTPAY_KINDS:
        raise BadArgumentError(
            f"PromptPay proxy type is one of {sorted(_PROMPTPAY_KINDS)}, not {proxy_type!r}"
        )
    value = re.sub(r"[\s-]", "", proxy_value)
    if proxy_type == "mobile":
        value = promptpay_mobile(value)
    account = {"00": PROMPTPAY_TRANSFER_AID, _PROMPTPAY_KINDS[proxy_type]: value}
    return _build(
        account,
        "29",
        currency="THB",
        country="TH",
        amount_minor=amount_minor,
        merchant_name=merchant_name,
        merchant_city=merchant_city,
        reference=reference,
    )


def build_duitnow(
    participant_code: str,
    merchant_account: str,
    *,
    amount_minor: int | None = None,
    merchant_name: str = "NA",
    merchant_city: str = "Kuala Lumpur",
    reference: str | None = None,
) -> str:
    """A DuitNow code: ``participant_code`` is the six-digit code PayNet gave
    the acquiring bank or e-wallet, ``merchant_account`` the account it
    credits. Amounts are in sen."""
    account = {"00": DUITNOW_AID, "01": participant_code, "02": merchant_account}
    return _build(
        account,
        "26",
        currency="MYR",
        country="MY",
        amount_minor=amount_minor,
        merchant_name=merchant_name,
        merchant_city=merchant_city,
        reference=reference,
    )
