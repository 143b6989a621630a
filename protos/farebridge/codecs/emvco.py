"""EMVCo merchant-presented QR codes (EMV QRCPS MPM v1.1) and the national
schemes built on them: PayNow (Singapore), PromptPay (Thailand), DuitNow
(Malaysia).

Wallets make top-up codes with it, readers and wallets read vehicle codes,
the clearing house decodes what riders paid; all of them must agree on every
character, so the codec lives here once.

Reading::

    payload = parse_payload(text)             # raises EmvcoError subclasses
    payload.amount_minor, payload.currency    # 1250, "SGD"
    detect_profile(payload)                   # "paynow"
    profile_violations(payload)               # [] or [Violation(code, message, tag)]

``parse_payload(text, strict=False)`` reads payloads that circulate although
they break an EMVCo field rule (``payload_violations`` lists them); a payload
whose TLV is torn or whose CRC is wrong is refused either way.

Writing: ``build_payload`` for any merchant, ``build_paynow``,
``build_promptpay`` and ``build_duitnow`` for the national schemes,
``top_up_qr`` and ``vehicle_qr`` for transit. Every builder checks its result
with the same rules the reader applies and raises rather than emit a code a
payer's app would refuse.

The farebridge vehicle template
-------------------------------
A merchant account template (the lowest id from 26 to 51 that the operator's
own payment accounts leave free; readers look for it in 26-51 and 80-99):

====  ===========================  ==================================
sub   meaning                      value
====  ===========================  ==================================
00    globally unique identifier   ``io.farebridge``
01    record type and layout       ``V1`` (vehicle, layout 1)
02    operator id                  printable ASCII, no spaces
03    route id                     printable ASCII, no spaces
04    vehicle id                   printable ASCII, no spaces
====  ===========================  ==================================

Ids 02-04 share the 64 characters EMVCo's 99-character limit leaves them.
The code is static (01 = ``11``), carries no amount and has merchant category
4111 unless told otherwise.
"""

from farebridge.codecs._emvco_errors import (
    BadArgumentError,
    BadCrcError,
    BadFormatError,
    BadLengthError,
    BadTagIdError,
    DuplicateTagError,
    EmvcoError,
    MisplacedTagError,
    MissingTagError,
    NotVehicleQrError,
    OrphanTagError,
    ProfileRuleError,
    TrailingDataError,
    TruncatedError,
    Violation,
)
from farebridge.codecs._emvco_payload import (
    DYNAMIC,
    FIELD_RULES,
    STATIC,
    MpmPayload,
    build_payload,
    encode_payload,
    parse_amount,
    parse_payload,
    payload_violations,
)
from farebridge.codecs._emvco_profiles import (
    DUITNOW_AID,
    PAYNOW_GUID,
    PROFILES,
    PROMPTPAY_BILL_AID,
    PROMPTPAY_TRANSFER_AID,
    Profile,
    build_duitnow,
    build_paynow,
    build_promptpay,
    detect_profile,
    profile_violations,
    promptpay_mobile,
)
from farebridge.codecs._emvco_tlv import TagValue, Template, crc16_ccitt, crc_text
from farebridge.codecs._emvco_transit import (
    FAREBRIDGE_GUID,
    TRANSIT_MCC,
    VEHICLE_RECORD,
    VehicleQr,
    parse_vehicle_qr,
    top_up_qr,
    vehicle_qr,
)
from farebridge.codecs.currencies import Currency, currency_of

__all__ = [
    "DUITNOW_AID",
    "DYNAMIC",
    "FAREBRIDGE_GUID",
    "FIELD_RULES",
    "PAYNOW_GUID",
    "PROFILES",
    "PROMPTPAY_BILL_AID",
    "PROMPTPAY_TRANSFER_AID",
    "STATIC",
    "TRANSIT_MCC",
    "VEHICLE_RECORD",
    "BadArgumentError",
    "BadCrcError",
    "BadFormatError",
    "BadLengthError",
    "BadTagIdError",
    "Currency",
    "DuplicateTagError",
    "EmvcoError",
    "MisplacedTagError",
    "MissingTagError",
    "MpmPayload",
    "NotVehicleQrError",
    "OrphanTagError",
    "Profile",
    "ProfileRuleError",
    "TagValue",
    "Template",
    "TrailingDataError",
    "TruncatedError",
    "VehicleQr",
    "Violation",
    "build_duitnow",
    "build_payload",
    "build_paynow",
    "build_promptpay",
    "crc16_ccitt",
    "crc_text",
    "currency_of",
    "detect_profile",
    "encode_payload",
    "parse_amount",
    "parse_payload",
    "parse_vehicle_qr",
    "payload_violations",
    "profile_violations",
    "promptpay_mobile",
    "top_up_qr",
    "vehicle_qr",
]
