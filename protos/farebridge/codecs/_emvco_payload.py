"""The merchant-presented payload: read it, check it, write it.

Reading has two stages. ``_read_structure`` finds the data objects and
refuses, by raising, a payload that cannot be read at all. ``payload_violations``
then runs the EMVCo field rules (a registry of small functions, ``FIELD_RULES``)
and returns what it finds as values. Where several structural faults are
present the first in this order is reported:

1. ``bad_crc`` — the payload ends in a CRC data object (``6304`` and four
   characters) whose value is not the checksum of what precedes it. This comes
   first because a damaged code is best told apart from a malformed one.
2. ``truncated``, ``bad_tag_id``, ``bad_length`` — scanning the top level, at
   the first object that cannot be read.
3. ``trailing_data`` — characters after the CRC data object.
4. ``missing_tag`` (00 or 63), ``misplaced_tag`` (00 not first),
   ``bad_length`` (63 not 4 characters), ``bad_crc`` (63 not hex).
5. ``duplicate_tag`` — a repeated id at the top level.
6. the contents of templates 26-51, 62 and 64, in payload order.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from farebridge.codecs._emvco_errors import (
    BadArgumentError,
    BadCrcError,
    BadFormatError,
    BadLengthError,
    DuplicateTagError,
    MisplacedTagError,
    MissingTagError,
    TrailingDataError,
    TruncatedError,
    Violation,
    error_for,
)
from farebridge.codecs._emvco_tlv import (
    TagValue,
    Template,
    crc_text,
    decode_template,
    encode_objects,
    iter_objects,
)
from farebridge.codecs.currencies import Currency, currency_by_numeric, currency_of

PAYLOAD_FORMAT = "00"
POINT_OF_INITIATION = "01"
MERCHANT_CATEGORY = "52"
CURRENCY = "53"
AMOUNT = "54"
TIP_INDICATOR = "55"
FEE_FIXED = "56"
FEE_PERCENTAGE = "57"
COUNTRY = "58"
MERCHANT_NAME = "59"
MERCHANT_CITY = "60"
POSTAL_CODE = "61"
ADDITIONAL_DATA = "62"
CRC = "63"
LANGUAGE = "64"

STATIC = "11"
"""Point of initiation: the same code serves many payments (a sticker)."""
DYNAMIC = "12"
"""Point of initiation: the code is made for one payment."""

MERCHANT_ACCOUNT_IDS = tuple(f"{n:02d}" for n in range(2, 52))
TEMPLATE_ACCOUNT_IDS = tuple(f"{n:02d}" for n in range(26, 52))
UNRESERVED_IDS = tuple(f"{n:02d}" for n in range(80, 100))
_TEMPLATES = frozenset((*TEMPLATE_ACCOUNT_IDS, ADDITIONAL_DATA, LANGUAGE))

_CRC_HEADER = "6304"
_CRC_TAIL = len(_CRC_HEADER) + 4


@dataclass(frozen=True, slots=True)
class MpmPayload:
    """A merchant-presented QR payload, read and immutable.

    ``tags`` maps each top-level id to its value in payload order. Templates
    (26-51 merchant account information, 62 additional data, 64 merchant
    information in another language) map to their own data objects; an
    unreserved template (80-99) does too when its value reads as TLV, and
    stays text otherwise (DuitNow codes in circulation carry opaque references
    there). ``to_string()`` gives back the exact payload it was read from.
    """

    tags: Mapping[str, TagValue]

    def to_string(self) -> str:
        """The payload text: the same characters it was parsed from."""
        return encode_objects(self.tags.items())

    def text(self, tag: str) -> str | None:
        """A top-level value that is text, or None when absent or a template."""
        value = self.tags.get(tag)
        return value if isinstance(value, str) else None

    def template(self, tag: str) -> Template | None:
        """A template's data objects, or None when absent or not a template."""
        value = self.tags.get(tag)
        return None if value is None or isinstance(value, str) else value

    @property
    def merchant_accounts(self) -> Mapping[str, TagValue]:
        """Merchant account information (02-51), by id, in payload order."""
        return {t: v for t, v in self.tags.items() if t in MERCHANT_ACCOUNT_IDS}

    @property
    def is_dynamic(self) -> bool:
        """True for a code made for one payment (point of initiation "12")."""
        return self.text(POINT_OF_INITIATION) == DYNAMIC

    @property
    def is_static(self) -> bool:
        """True for a code that serves many payments ("11", or no 01 at all)."""
        return not self.is_dynamic

    @property
    def merchant_name(self) -> str | None:
        return self.text(MERCHANT_NAME)

    @property
    def merchant_city(self) -> str | None:
        return self.text(MERCHANT_CITY)

    @property
    def country(self) -> str | None:
        """ISO 3166-1 alpha-2 country of the merchant (58)."""
        return self.text(COUNTRY)

    @property
    def merchant_category_code(self) -> str | None:
        return self.text(MERCHANT_CATEGORY)

    @property
    def currency(self) -> str | None:
        """The alphabetic ISO 4217 code of data object 53 (``"SGD"`` for
        ``"702"``), or None when 53 is absent or names no known currency."""
        found = currency_by_numeric(self.text(CURRENCY) or "")
        return found.alpha if found else None

    @property
    def amount_minor(self) -> int | None:
        """The amount (54) in integer minor units of ``currency``, None when the
        payer is to enter it. Raises BadFormatError when the amount cannot be
        counted exactly in that currency (unknown currency, too many decimals)."""
        amount = self.text(AMOUNT)
        if amount is None:
            return None
        found = currency_by_numeric(self.text(CURRENCY) or "")
        if found is None:
            raise BadFormatError(
                "the amount cannot be counted: data object 53 names no known currency",
                tag=CURRENCY,
            )
        return amount_to_minor(amount, found, AMOUNT)

    def as_dict(self) -> dict[str, str | dict[str, str]]:
        """Plain dicts in payload order, for JSON."""
        return {t: v if isinstance(v, str) else dict(v) for t, v in self.tags.items()}


_AMOUNT = re.compile(r"(?=\.?[0-9])[0-9]*(\.[0-9]*)?")


def amount_to_minor(text: str, currency: Currency, tag: str) -> int:
    """``"12.50"`` in SGD is 1250; raises BadFormatError when not exact."""
    if not _AMOUNT.fullmatch(text):
        raise BadFormatError(f"data object {tag} = {text!r} is not a decimal amount", tag=tag)
    whole, _, fraction = text.partition(".")
    if len(fraction) > currency.exponent:
        raise BadFormatError(
            f"data object {tag} = {text!r} has more decimals than {currency.alpha} "
            f"has minor units ({currency.exponent})",
            tag=tag,
        )
    return int((whole or "0") + fraction.ljust(currency.exponent, "0"))


def parse_amount(text: str, currency: str) -> int:
    """A decimal amount as people and EMVCo write it (``"12.50"``) in integer
    minor units of ``currency`` (alphabetic or numeric ISO 4217): 1250 for SGD.
    Raises BadFormatError unless exact, BadArgumentError for an unknown currency."""
    return amount_to_minor(text, _currency(currency), AMOUNT)


def minor_to_amount(minor: int, currency: Currency) -> str:
    """1250 in SGD is ``"12.50"``; 500 in JPY is ``"500"``."""
    if minor <= 0:
        raise BadArgumentError(f"an amount must be positive, not {minor} minor units")
    if currency.exponent == 0:
        return str(minor)
    digits = str(minor).rjust(currency.exponent + 1, "0")
    return f"{digits[: -currency.exponent]}.{digits[-currency.exponent :]}"


def parse_payload(text: str, *, strict: bool = True) -> MpmPayload:
    """Reads a merchant-presented payload.

    Always raises an ``EmvcoError`` when the payload cannot be read (see the
    module docstring for which code wins). With ``strict`` (the default) it
    also raises for the first EMVCo field rule the payload breaks; with
    ``strict=False`` it returns the payload and ``payload_violations`` lists
    every such problem, so a decoder can show payloads that circulate despite
    breaking a rule.
    """
    payload = MpmPayload(MappingProxyType(_read_structure(text)))
    if strict:
        raise_first(payload_violations(payload))
    return payload


def raise_first(violations: list[Violation]) -> None:
    if violations:
        raise error_for(violations[0], len(violations) - 1)


def _read_structure(text: str) -> dict[str, TagValue]:
    if not text:
        raise TruncatedError("the payload is empty")
    _check_crc_first(text)
    objects: list[tuple[str, str]] = []
    for tag, value, end in iter_objects(text):
        objects.append((tag, value))
        if tag == CRC and end < len(text):
            raise TrailingDataError(
                f"{len(text) - end} characters follow the CRC (63), which must come last",
                tag=CRC,
            )
    _check_frame(objects, text)
    return _with_templates(objects)


def _check_crc_first(text: str) -> None:
    head, tail = text[:-_CRC_TAIL], text[-_CRC_TAIL:]
    if len(text) >= _CRC_TAIL and tail.startswith(_CRC_HEADER) and head:
        _check_crc_value(text[-4:], crc_text(text[:-4]))


def _check_crc_value(found: str, expected: str) -> None:
    if not re.fullmatch(r"[0-9A-Fa-f]{4}", found):
        raise BadCrcError(f"the CRC (63) {found!r} is not four hex digits", tag=CRC)
    if found.upper() != expected:
        raise BadCrcError(
            f"the CRC (63) is {found} but the payload's checksum is {expected}: "
            "the code was altered or damaged",
            tag=CRC,
        )


def _check_frame(objects: list[tuple[str, str]], text: str) -> None:
    ids = [tag for tag, _ in objects]
    if PAYLOAD_FORMAT not in ids:
        raise MissingTagError("the payload format indicator (00) is missing", tag=PAYLOAD_FORMAT)
    if ids[0] != PAYLOAD_FORMAT:
        raise MisplacedTagError(
            f"the payload format indicator (00) must come first, not after {ids[0]}",
            tag=PAYLOAD_FORMAT,
        )
    if ids[-1] != CRC:
        raise MissingTagError("the CRC (63) is missing; it must be the last object", tag=CRC)
    if len(objects[-1][1]) != 4:
        raise BadLengthError(
            f"the CRC (63) must be 4 characters, not {len(objects[-1][1])}", tag=CRC
        )
    _check_crc_value(objects[-1][1], crc_text(text[:-4]))


def _with_templates(objects: list[tuple[str, str]]) -> dict[str, TagValue]:
    tags: dict[str, TagValue] = {}
    for tag, value in objects:
        if tag in tags:
            raise DuplicateTagError(f"data object {tag} occurs twice", tag=tag)
        tags[tag] = value
    for tag, value in objects:
        if tag in _TEMPLATES:
            tags[tag] = MappingProxyType(decode_template(value, tag))
        elif tag in UNRESERVED_IDS:
            tags[tag] = _maybe_template(value, tag)
    return tags


def _maybe_template(value: str, tag: str) -> TagValue:
    try:
        return MappingProxyType(decode_template(value, tag))
    except ValueError:
        return value


# --- EMVCo field rules ----------------------------------------------------------

Rule = Callable[[MpmPayload], Iterator[Violation]]

_MANDATORY = {
    MERCHANT_CATEGORY: "merchant category code",
    CURRENCY: "transaction currency",
    COUNTRY: "country code",
    MERCHANT_NAME: "merchant name",
    MERCHANT_CITY: "merchant city",
}
_MAX_LENGTHS = {MERCHANT_NAME: 25, MERCHANT_CITY: 15, POSTAL_CODE: 10, AMOUNT: 13, FEE_FIXED: 13}
_ADDITIONAL_DATA_MAX = 25
"""Sub-objects 01-09 of 62 (bill number, reference label ...) are var. up to 25."""
_ANS = re.compile(r"[\x20-\x7e]*")
"""EMVCo's alphanumeric-special set: printable ASCII. Only 64 may hold other text."""


def _mandatory(payload: MpmPayload) -> Iterator[Violation]:
    for tag, name in _MANDATORY.items():
        if tag not in payload.tags:
            yield Violation("missing_tag", f"the {name} ({tag}) is missing", tag)
    if not payload.merchant_accounts:
        yield Violation(
            "missing_tag", "no merchant account information (02-51) is present", "02-51"
        )


def _fixed_values(payload: MpmPayload) -> Iterator[Violation]:
    if payload.text(PAYLOAD_FORMAT) != "01":
        yield Violation(
            "bad_format",
            f"the payload format indicator (00) is {payload.text(PAYLOAD_FORMAT)!r}, not '01'",
            PAYLOAD_FORMAT,
        )
    method = payload.text(POINT_OF_INITIATION)
    if method is not None and method not in (STATIC, DYNAMIC):
        yield Violation(
            "bad_format",
            f"the point of initiation (01) is {method!r}; it must be '11' (static) "
            "or '12' (dynamic)",
            POINT_OF_INITIATION,
        )


def _numeric_fields(payload: MpmPayload) -> Iterator[Violation]:
    mcc, currency = payload.text(MERCHANT_CATEGORY), payload.text(CURRENCY)
    if mcc is not None and not re.fullmatch(r"[0-9]{4}", mcc):
        yield Violation(
            "bad_format", f"the merchant category code (52) {mcc!r} is not 4 digits", "52"
        )
    if currency is not None and currency_by_numeric(currency) is None:
        yield Violation(
            "bad_format",
            f"the transaction currency (53) {currency!r} is no ISO 4217 numeric currency code",
            CURRENCY,
        )
    country = payload.text(COUNTRY)
    if country is not None and not re.fullmatch(r"[A-Z]{2}", country):
        yield Violation(
            "bad_format",
            f"the country code (58) {country!r} is not two upper-case letters",
            COUNTRY,
        )


def _lengths(payload: MpmPayload) -> Iterator[Violation]:
    for tag, limit in _MAX_LENGTHS.items():
        value = payload.text(tag)
        if value is not None and len(value) > limit:
            yield Violation(
                "bad_length",
                f"data object {tag} is {len(value)} characters; at most {limit} are allowed",
                tag,
            )
    for tag, value in (payload.template(ADDITIONAL_DATA) or {}).items():
        if "01" <= tag <= "09" and len(value) > _ADDITIONAL_DATA_MAX:
            yield Violation(
                "bad_length",
                f"data object 62.{tag} is {len(value)} characters; "
                f"at most {_ADDITIONAL_DATA_MAX} are allowed",
                f"62.{tag}",
            )


_ANY_DECIMALS = Currency("unknown currency", "", 99)
"""Stands in for an unknown 53 (reported by its own rule), so 54 is checked for shape."""


def _amounts(payload: MpmPayload) -> Iterator[Violation]:
    found = currency_by_numeric(payload.text(CURRENCY) or "")
    for tag in (AMOUNT, FEE_FIXED):
        value = payload.text(tag)
        if value is None:
            continue
        try:
            amount_to_minor(value, found or _ANY_DECIMALS, tag)
        except BadFormatError as error:
            yield Violation("bad_format", str(error), tag)


def _tip(payload: MpmPayload) -> Iterator[Violation]:
    indicator = payload.text(TIP_INDICATOR)
    if indicator is not None and indicator not in ("01", "02", "03"):
        yield Violation(
            "bad_format",
            f"the tip or convenience indicator (55) is {indicator!r}; "
            "it must be '01', '02' or '03'",
            TIP_INDICATOR,
        )
    for tag, needs in ((FEE_FIXED, "02"), (FEE_PERCENTAGE, "03")):
        if tag in payload.tags and indicator != needs:
            yield Violation(
                "orphan_tag", f"data object {tag} requires tip indicator 55 = {needs!r}", tag
            )
    percentage = payload.text(FEE_PERCENTAGE)
    if percentage is not None and not _is_percentage(percentage):
        yield Violation(
            "bad_format",
            f"the convenience fee percentage (57) {percentage!r} is not between 00.01 and 99.99",
            FEE_PERCENTAGE,
        )


def _is_percentage(text: str) -> bool:
    return bool(re.fullmatch(r"[0-9]{1,2}(\.[0-9]{0,2})?", text)) and text.strip("0.") != ""


def _templates(payload: MpmPayload) -> Iterator[Violation]:
    for tag in TEMPLATE_ACCOUNT_IDS:
        account = payload.template(tag)
        if account is not None and "00" not in account:
            yield Violation(
                "missing_tag",
                f"merchant account template {tag} has no globally unique identifier ({tag}.00)",
                f"{tag}.00",
            )
    language = payload.template(LANGUAGE)
    for sub, name in (("00", "language preference"), ("01", "alternate merchant name")):
        if language is not None and sub not in language:
            yield Violation("missing_tag", f"template 64 lacks the {name} (64.{sub})", f"64.{sub}")


def _character_set(payload: MpmPayload) -> Iterator[Violation]:
    for tag, value in payload.tags.items():
        if tag == LANGUAGE or tag in UNRESERVED_IDS:
            continue
        members = [(tag, value)] if isinstance(value, str) else _members(tag, value)
        for where, text in members:
            if not _ANS.fullmatch(text):
                yield Violation(
                    "bad_format",
                    f"data object {where} holds characters outside printable ASCII; "
                    "only template 64 may carry other scripts",
                    where,
                )


def _members(tag: str, template: Template) -> list[tuple[str, str]]:
    return [(f"{tag}.{sub}", text) for sub, text in template.items()]


FIELD_RULES: tuple[Rule, ...] = (
    _fixed_values,
    _mandatory,
    _numeric_fields,
    _lengths,
    _amounts,
    _tip,
    _templates,
    _character_set,
)
"""The EMVCo MPM v1.1 rules farebridge checks, in reporting order."""


def payload_violations(payload: MpmPayload) -> list[Violation]:
    """Every EMVCo field rule ``payload`` breaks; empty when it conforms."""
    return [violation for rule in FIELD_RULES for violation in rule(payload)]


# --- writing --------------------------------------------------------------------


def encode_payload(tags: Mapping[str, TagValue]) -> str:
    """``tags`` in the given order, then 63 with the CRC computed; no rule is checked.
    A 63 among ``tags`` is ignored: the checksum is always computed afresh."""
    body = encode_objects((t, v) for t, v in tags.items() if t != CRC) + "6304"
    return body + crc_text(body)


def build_payload(
    *,
    merchant_accounts: Mapping[str, TagValue],
    merchant_name: str,
    merchant_city: str,
    country: str,
    currency: str,
    merchant_category_code: str = "0000",
    amount_minor: int | None = None,
    dynamic: bool | None = None,
    postal_code: str | None = None,
    additional_data: Template | None = None,
    language: Template | None = None,
    unreserved: Mapping[str, TagValue] | None = None,
) -> str:
    """A payload that conforms to EMVCo MPM, its CRC computed.

    ``currency`` is an ISO 4217 code, alphabetic (``"SGD"``) or numeric;
    ``amount_minor`` counts its minor units. A code is dynamic when ``dynamic``
    says so, or, left as None, exactly when it carries an amount. Objects are
    written in ascending id order. Raises the ``EmvcoError`` of the first rule
    the result would break.
    """
    _check_ids(merchant_accounts, MERCHANT_ACCOUNT_IDS, "a merchant account")
    _check_ids(unreserved or {}, UNRESERVED_IDS, "an unreserved template")
    found = _currency(currency)
    tags: dict[str, TagValue] = {PAYLOAD_FORMAT: "01"}
    is_dynamic = amount_minor is not None if dynamic is None else dynamic
    tags[POINT_OF_INITIATION] = DYNAMIC if is_dynamic else STATIC
    tags.update(sorted(merchant_accounts.items()))
    tags[MERCHANT_CATEGORY] = merchant_category_code
    tags[CURRENCY] = found.numeric
    if amount_minor is not None:
        tags[AMOUNT] = minor_to_amount(amount_minor, found)
    tags.update({COUNTRY: country, MERCHANT_NAME: merchant_name, MERCHANT_CITY: merchant_city})
    optional = {POSTAL_CODE: postal_code, ADDITIONAL_DATA: additional_data, LANGUAGE: language}
    tags.update({t: v for t, v in optional.items() if v is not None})
    tags.update(sorted((unreserved or {}).items()))
    text = encode_payload(tags)
    parse_payload(text)
    return text


def _currency(code: str) -> Currency:
    found = currency_of(code)
    if found is None:
        raise BadArgumentError(f"{code!r} is no ISO 4217 currency farebridge knows")
    return found


def _check_ids(given: Mapping[str, TagValue], allowed: tuple[str, ...], what: str) -> None:
    for tag in given:
        if tag not in allowed:
            raise BadArgumentError(
                f"{tag!r} is not {what} id ({allowed[0]}-{allowed[-1]})", tag=tag
            )
