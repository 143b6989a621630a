"""Transit codes: a wallet top-up that names its top-up, and a vehicle sticker
that names operator, route and vehicle while staying payable by any bank app."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from farebridge.codecs.emvco import (
    FAREBRIDGE_GUID,
    BadArgumentError,
    MissingTagError,
    NotVehicleQrError,
    ProfileRuleError,
    build_paynow,
    detect_profile,
    encode_payload,
    parse_payload,
    parse_vehicle_qr,
    profile_violations,
    top_up_qr,
    vehicle_qr,
)

PAYNOW_ACCOUNT = {"00": "SG.PAYNOW", "01": "2", "02": "201403121W", "03": "0"}
"""The wallet provider's own PayNow account, fixed amount."""

SG_MERCHANT: dict[str, Any] = {
    "merchant_name": "TapCard Wallet",
    "merchant_city": "Singapore",
    "country": "SG",
}


def test_top_up_qr_is_dynamic_with_amount_and_bill_number() -> None:
    text = top_up_qr(
        merchant_accounts={"26": PAYNOW_ACCOUNT},
        amount_minor=2000,
        currency="SGD",
        reference="topup-8f3a",
        **SG_MERCHANT,
    )
    payload = parse_payload(text)
    assert payload.is_dynamic
    assert (payload.amount_minor, payload.currency) == (2000, "SGD")
    assert payload.template("62") == {"01": "topup-8f3a"}
    assert payload.merchant_category_code == "4111"
    assert detect_profile(payload) == "paynow"
    assert profile_violations(payload) == []


def test_top_up_reference_may_be_a_reference_label() -> None:
    text = top_up_qr(
        merchant_accounts={"26": PAYNOW_ACCOUNT},
        amount_minor=500,
        currency="702",
        reference="R-1",
        reference_kind="label",
        **SG_MERCHANT,
    )
    assert parse_payload(text).template("62") == {"05": "R-1"}


def test_top_up_qr_obeys_the_scheme_of_its_account() -> None:
    with pytest.raises(ProfileRuleError) as caught:
        top_up_qr(
            merchant_accounts={"26": PAYNOW_ACCOUNT},
            amount_minor=500,
            currency="MYR",
            reference="R-1",
            **SG_MERCHANT,
        )
    assert caught.value.code == "wrong_currency"


def test_top_up_qr_refuses_bad_arguments() -> None:
    common: dict[str, Any] = {
        "merchant_accounts": {"26": PAYNOW_ACCOUNT},
        "currency": "SGD",
        **SG_MERCHANT,
    }
    with pytest.raises(BadArgumentError, match="positive"):
        top_up_qr(amount_minor=-5, reference="R", **common)
    with pytest.raises(BadArgumentError, match="reference_kind"):
        top_up_qr(amount_minor=5, reference="R", reference_kind="memo", **common)  # type: ignore[arg-type]
    with pytest.raises(MissingTagError):
        top_up_qr(amount_minor=5, reference="R", **{**common, "merchant_accounts": {}})


def test_vehicle_qr_layout_is_as_documented() -> None:
    text = vehicle_qr(
        "jeep-coop-7", "R-12", "PUJ-0042", merchant_city="Quezon City", merchant_name="Jeep Coop 7",
        country="PH", currency="PHP",
    )  # fmt: skip
    payload = parse_payload(text)
    assert payload.template("26") == {
        "00": "io.farebridge",
        "01": "V1",
        "02": "jeep-coop-7",
        "03": "R-12",
        "04": "PUJ-0042",
    }
    assert payload.is_static
    assert payload.amount_minor is None
    assert payload.merchant_category_code == "4111"


def test_vehicle_qr_sits_beside_the_operators_payment_account() -> None:
    paynow = {"00": "SG.PAYNOW", "01": "2", "02": "201403121W", "03": "1"}
    text = vehicle_qr(
        "sbs", "190", "SBS3021Z", payment_accounts={"26": paynow}, currency="SGD", **SG_MERCHANT
    )
    payload = parse_payload(text)
    assert payload.template("26") == paynow
    assert payload.template("27") is not None
    assert detect_profile(payload) == "paynow"
    assert parse_vehicle_qr(payload)[:3] == ("sbs", "190", "SBS3021Z")


_ID = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=21)


@given(operator=_ID, route=_ID, vehicle=_ID)
def test_vehicle_qr_round_trips(operator: str, route: str, vehicle: str) -> None:
    text = vehicle_qr(operator, route, vehicle, currency="SGD", **SG_MERCHANT)
    found = parse_vehicle_qr(text)
    assert (found.operator_id, found.route_id, found.vehicle_id) == (operator, route, vehicle)
    assert found.payload.to_string() == text


def test_vehicle_ids_must_fit_and_be_printable() -> None:
    with pytest.raises(BadArgumentError, match="64 characters"):
        vehicle_qr("o" * 30, "r" * 30, "v" * 5, currency="SGD", **SG_MERCHANT)
    with pytest.raises(BadArgumentError, match="route_id"):
        vehicle_qr("op", "route 12", "v1", currency="SGD", **SG_MERCHANT)
    with pytest.raises(BadArgumentError, match="vehicle_id"):
        vehicle_qr("op", "r", "", currency="SGD", **SG_MERCHANT)
    vehicle_qr("o" * 30, "r" * 30, "v" * 4, currency="SGD", **SG_MERCHANT)


def test_other_merchant_codes_are_not_vehicle_codes(paynow_qryptal: str) -> None:
    with pytest.raises(NotVehicleQrError) as caught:
        parse_vehicle_qr(paynow_qryptal)
    assert caught.value.code == "not_vehicle_qr"
    assert FAREBRIDGE_GUID in str(caught.value)


def test_other_farebridge_records_are_not_vehicle_codes() -> None:
    text = build_paynow("uen", "201403121W")
    tags = dict(parse_payload(text).tags)
    tags["27"] = {"00": "io.farebridge", "01": "S1", "02": "x"}
    with pytest.raises(NotVehicleQrError, match="'S1'"):
        parse_vehicle_qr(encode_payload(tags))


def test_vehicle_template_missing_an_id_names_it() -> None:
    tags = dict(parse_payload(build_paynow("uen", "201403121W")).tags)
    tags["85"] = {"00": "io.farebridge", "01": "V1", "02": "op", "04": "bus-1"}
    with pytest.raises(MissingTagError) as caught:
        parse_vehicle_qr(encode_payload(tags))
    assert caught.value.tag == "85.03"


def test_unreadable_text_is_refused_before_looking_for_a_vehicle() -> None:
    with pytest.raises(MissingTagError, match="CRC"):
        parse_vehicle_qr("000201010211")
