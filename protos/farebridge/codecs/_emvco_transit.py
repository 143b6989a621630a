"""Merchant QR codes for transit: wallet top-ups and vehicles without readers.

A top-up code is an ordinary dynamic EMVCo code for one amount, carrying the
top-up's idempotency key as its bill number (62.01) or reference label
(62.05), so the payment the wallet provider's bank reports can be matched to
the top-up that asked for it.

A vehicle code is a static sticker in a bus or jeepney that has no reader.
Next to the operator's payment accounts it carries a farebridge merchant
account template (layout in ``farebridge.codecs.emvco``) naming operator,
route and vehicle, so a farebridge wallet can record a tap while any banking
app can still pay the operator through the national scheme.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal, NamedTuple

from farebridge.codecs._emvco_errors import (
    BadArgumentError,
    MissingTagError,
    NotVehicleQrError,
)
from farebridge.codecs._emvco_payload import (
    TEMPLATE_ACCOUNT_IDS,
    UNRESERVED_IDS,
    MpmPayload,
    build_payload,
    parse_payload,
    raise_first,
)
from farebridge.codecs._emvco_profiles import profile_violations
from farebridge.codecs._emvco_tlv import MAX_VALUE_LENGTH, TagValue, Template, encode_objects

FAREBRIDGE_GUID = "io.farebridge"
"""Globally unique identifier (sub-object 00) of farebridge's templates."""
VEHICLE_RECORD = "V1"
"""Sub-object 01 of a vehicle template: record type V, layout version 1."""
TRANSIT_MCC = "4111"
"""ISO 18245 merchant category: local and suburban commuter passenger transport."""

_REFERENCE_TAGS = {"bill": "01", "label": "05"}
_ID_CHARS = re.compile(r"[\x21-\x7e]+")


class VehicleQr(NamedTuple):
    """What a vehicle's sticker names: who runs it, on which route, which
    vehicle; ``payload`` is the whole code, for its payment accounts."""

    operator_id: str
    route_id: str
    vehicle_id: str
    payload: MpmPayload


def top_up_qr(
    *,
    merchant_accounts: Mapping[str, TagValue],
    merchant_name: str,
    merchant_city: str,
    country: str,
    amount_minor: int,
    currency: str,
    reference: str,
    reference_kind: Literal["bill", "label"] = "bill",
    merchant_category_code: str = TRANSIT_MCC,
) -> str:
    """A dynamic code asking for ``amount_minor`` of ``currency`` (ISO 4217,
    alphabetic or numeric), with ``reference`` (at most 25 characters) as the
    bill number or, with ``reference_kind="label"``, the reference label.
    Raises the ``EmvcoError`` of the first EMVCo or national-scheme rule the
    code would break."""
    if reference_kind not in _REFERENCE_TAGS:
        raise BadArgumentError(f"reference_kind is 'bill' or 'label', not {reference_kind!r}")
    text = build_payload(
        merchant_accounts=merchant_accounts,
        merchant_name=merchant_name,
        merchant_city=merchant_city,
        country=country,
        currency=currency,
        merchant_category_code=merchant_category_code,
        amount_minor=amount_minor,
        dynamic=True,
        additional_data={_REFERENCE_TAGS[reference_kind]: reference},
    )
    return _scheme_checked(text)


def vehicle_qr(
    operator_id: str,
    route_id: str,
    vehicle_id: str,
    *,
    merchant_name: str,
    merchant_city: str,
    country: str,
    currency: str,
    payment_accounts: Mapping[str, TagValue] | None = None,
    merchant_category_code: str = TRANSIT_MCC,
) -> str:
    """A static code for one vehicle. The farebridge template takes the lowest
    merchant account id from 26 to 51 that ``payment_accounts`` leaves free.
    Identifiers are printable ASCII without spaces and together at most 64
    characters, so that the template fits EMVCo's 99."""
    template = _vehicle_template(operator_id, route_id, vehicle_id)
    accounts = dict(payment_accounts or {})
    free = [tag for tag in TEMPLATE_ACCOUNT_IDS if tag not in accounts]
    if not free:
        raise BadArgumentError("payment_accounts leave no merchant account id in 26-51 free")
    accounts[free[0]] = template
    text = build_payload(
        merchant_accounts=accounts,
        merchant_name=merchant_name,
        merchant_city=merchant_city,
        country=country,
        currency=currency,
        merchant_category_code=merchant_category_code,
        dynamic=False,
    )
    return _scheme_checked(text)


def _vehicle_template(operator_id: str, route_id: str, vehicle_id: str) -> Template:
    named = {"operator_id": operator_id, "route_id": route_id, "vehicle_id": vehicle_id}
    for name, value in named.items():
        if not _ID_CHARS.fullmatch(value):
            raise BadArgumentError(
                f"{name} {value!r} must be printable ASCII without spaces, and not empty"
            )
    template = {"00": FAREBRIDGE_GUID, "01": VEHICLE_RECORD}
    template |= {"02": operator_id, "03": route_id, "04": vehicle_id}
    if len(encode_objects(template.items())) > MAX_VALUE_LENGTH:
        raise BadArgumentError(
            "operator, route and vehicle ids together are too long for one EMVCo "
            "template; keep them to 64 characters in all"
        )
    return template


def parse_vehicle_qr(payload: MpmPayload | str) -> VehicleQr:
    """The operator, route and vehicle a vehicle code names. A string is first
    read strictly (any ``EmvcoError``); a valid merchant code without a
    farebridge vehicle template raises NotVehicleQrError."""
    read = payload if isinstance(payload, MpmPayload) else parse_payload(payload)
    tag, template = _farebridge_template(read)
    if template.get("01") != VEHICLE_RECORD:
        raise NotVehicleQrError(
            f"template {tag} is a farebridge record of type {template.get('01')!r}, "
            f"not a vehicle ({VEHICLE_RECORD})",
            tag=f"{tag}.01",
        )
    for sub, name in (("02", "operator"), ("03", "route"), ("04", "vehicle")):
        if sub not in template:
            raise MissingTagError(
                f"vehicle template {tag} lacks the {name} id ({tag}.{sub})", tag=f"{tag}.{sub}"
            )
    return VehicleQr(template["02"], template["03"], template["04"], read)


def _farebridge_template(payload: MpmPayload) -> tuple[str, Template]:
    for tag in (*TEMPLATE_ACCOUNT_IDS, *UNRESERVED_IDS):
        template = payload.template(tag)
        if template is not None and template.get("00", "").lower() == FAREBRIDGE_GUID:
            return tag, template
    raise NotVehicleQrError(
        f"no merchant account template has the identifier {FAREBRIDGE_GUID!r}: "
        "this is not a farebridge vehicle code"
    )


def _scheme_checked(text: str) -> str:
    raise_first(profile_violations(text))
    return text
