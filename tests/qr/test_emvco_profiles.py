"""National schemes on EMVCo: PayNow, PromptPay and DuitNow codes published by
others read as their scheme, ours reproduce them, and each scheme's rules
report what a payer's app would trip over."""

from __future__ import annotations

from datetime import date
from typing import Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from farebridge.codecs.emvco import (
    BadArgumentError,
    EmvcoError,
    ProfileRuleError,
    Violation,
    build_duitnow,
    build_paynow,
    build_promptpay,
    detect_profile,
    encode_payload,
    parse_payload,
    payload_violations,
    profile_violations,
    promptpay_mobile,
)

# dtinth/promptpay-qr, index.test.js: generatePayload(id, options) => payload.
# These codes omit 52, 59 and 60, as Thai P2P codes do; they read leniently.
PROMPTPAY_QR_SUITE = [
    ("0801234567", None,
     "00020101021129370016A000000677010111011300668012345675802TH530376463046197"),
    ("+66-89-123-4567", None,
     "00020101021129370016A000000677010111011300668912345675802TH5303764630429C1"),
    ("1111111111111", None,
     "00020101021129370016A000000677010111021311111111111115802TH530376463047B5A"),
    ("0123456789012", None,
     "00020101021129370016A000000677010111021301234567890125802TH530376463040CBD"),
    ("000-000-0000", 422,
     "00020101021229370016A000000677010111011300660000000005802TH530376454044.226304E469"),
]  # fmt: skip

# Angmar2722/PayNowQRSwift, README.md ("demo2") and Tests/PayNowQRSwiftTests.
PAYNOW_DEMO2 = (
    "00020101021226380009SG.PAYNOW010100211+651234567803011520400005303702540510.275802SG"
    "5908John Lee6009Singapore62160112Mr. Lee Bill6304BD9B"
)
# Same README, "demo1": its merchant name has 28 characters, three over EMVCo's 25.
PAYNOW_DEMO1 = (
    "00020101021226490009SG.PAYNOW010120210S62SS0057G03010040820200817520400005303702540510.00"
    "5802SG5928Singapore Children's Society6009Singapore62120108Donation630482EB"
)

# A static DuitNow code published in public code (merchant QRCSDNBHD, Bangi). It
# carries payload format indicator "02", as many Malaysian codes in circulation do.
DUITNOW_BANGI = (
    "00020201021126410014A000000615000101065016640209123456789520499995303458540510.005802MY"
    "5909QRCSDNBHD6005BANGI6304343F"
)


def paynow_tags(**account: str) -> dict[str, str | dict[str, str]]:
    base = {"00": "SG.PAYNOW", "01": "2", "02": "201403121W", "03": "1"}
    return {
        "00": "01",
        "01": "11",
        "26": {**base, **account},
        "52": "0000",
        "53": "702",
        "58": "SG",
        "59": "NA",
        "60": "Singapore",
    }


def rule_codes(tags: dict[str, str | dict[str, str]]) -> list[tuple[str, str]]:
    return [(v.code, v.tag) for v in profile_violations(encode_payload(tags))]


# --- PromptPay ---------------------------------------------------------------


@pytest.mark.parametrize(("proxy", "amount", "published"), PROMPTPAY_QR_SUITE)
def test_promptpay_qr_suite_reads_as_promptpay(
    proxy: str, amount: int | None, published: str
) -> None:
    payload = parse_payload(published, strict=False)
    assert detect_profile(payload) == "promptpay"
    assert profile_violations(payload) == []
    assert (payload.amount_minor, payload.currency, payload.country) == (amount, "THB", "TH")
    assert [v.tag for v in payload_violations(payload)] == ["52", "59", "60"]
    assert payload.to_string() == published


@pytest.mark.parametrize(("proxy", "amount", "published"), PROMPTPAY_QR_SUITE)
def test_build_promptpay_writes_the_proxy_as_promptpay_qr_does(
    proxy: str, amount: int | None, published: str
) -> None:
    kind: Literal["mobile", "national_id"] = (
        "mobile" if len(proxy.replace("-", "")) < 13 else "national_id"
    )
    ours = parse_payload(build_promptpay(kind, proxy, amount_minor=amount))
    theirs = parse_payload(published, strict=False)
    assert ours.template("29") == theirs.template("29")
    assert (ours.amount_minor, ours.is_dynamic) == (theirs.amount_minor, theirs.is_dynamic)
    assert profile_violations(ours) == []


def test_promptpay_mobile_numbers_are_normalised() -> None:
    assert promptpay_mobile("081-234-5678") == "0066812345678"
    assert promptpay_mobile("+66 81 234 5678") == "0066812345678"


def test_promptpay_code_from_promptpay_io_reads() -> None:
    # chokchai9900/QR_Wiki, "Example/Base Example .md": promptpay.io for 0918695214.
    published = "00020101021129370016A000000677010111011300669186952145802TH5303764630471E4"
    payload = parse_payload(published, strict=False)
    assert payload.template("29") == {"00": "A000000677010111", "01": "0066918695214"}
    assert detect_profile(payload) == "promptpay"


def promptpay_tags(tag: str = "29", **account: str) -> dict[str, str | dict[str, str]]:
    return {
        "00": "01",
        "01": "11",
        tag: {"00": "A000000677010111", **account},
        "52": "0000",
        "53": "764",
        "58": "TH",
        "59": "NA",
        "60": "Bangkok",
    }


def test_promptpay_rules() -> None:
    assert rule_codes(promptpay_tags(**{"01": "0066812345678"})) == []
    assert rule_codes(promptpay_tags(**{"01": "0812345678"})) == [("bad_proxy", "29.01")]
    assert rule_codes(promptpay_tags(**{"02": "123"})) == [("bad_proxy", "29.02")]
    assert rule_codes(promptpay_tags(**{"03": "12345678901234"})) == [("bad_proxy", "29.03")]
    assert rule_codes(promptpay_tags()) == [("missing_tag", "29")]
    both = promptpay_tags(**{"01": "0066812345678", "02": "1111111111111"})
    assert rule_codes(both) == [("ambiguous_proxy", "29")]
    assert rule_codes(promptpay_tags("31", **{"01": "0066812345678"})) == [("misplaced_tag", "31")]
    wrong_money = {**promptpay_tags(**{"01": "0066812345678"}), "53": "702", "58": "SG"}
    assert rule_codes(wrong_money) == [("wrong_currency", "53"), ("wrong_country", "58")]


def test_promptpay_bill_payment_rules() -> None:
    bill = {"00": "A000000677010112", "01": "010553509091205", "02": "2066114", "03": "W229329355"}
    tags = {**promptpay_tags(), "30": bill}
    del tags["29"]
    assert detect_profile(encode_payload(tags)) == "promptpay"
    assert rule_codes(tags) == []
    tags["30"] = {**bill, "01": "12345"}
    assert rule_codes(tags) == [("bad_proxy", "30.01")]
    tags["30"] = {"00": "A000000677010112", "01": "010553509091205"}
    assert rule_codes(tags) == [("missing_tag", "30.02")]


def test_build_promptpay_refuses_unknown_proxy_types_and_bad_ids() -> None:
    with pytest.raises(BadArgumentError):
        build_promptpay("passport", "X1234567")  # type: ignore[arg-type]
    with pytest.raises(ProfileRuleError) as caught:
        build_promptpay("ewallet", "12345")
    assert caught.value.code == "bad_proxy"


# --- PayNow ----------------------------------------------------------------------


def test_build_paynow_reproduces_paynowqrswift_tests(paynow_qryptal: str) -> None:
    built = build_paynow(
        "uen",
        "201101550Z",
        amount_minor=5000,
        editable=False,
        expiry=date(2020, 11, 27),
        merchant_name="Qryptal",
        reference="AJ",
    )
    assert built == paynow_qryptal


def test_build_paynow_reproduces_paynowqrswift_readme() -> None:
    built = build_paynow(
        "mobile",
        "+6512345678",
        amount_minor=1027,
        merchant_name="John Lee",
        reference="Mr. Lee Bill",
    )
    assert built == PAYNOW_DEMO2


def test_published_paynow_codes_read_as_paynow(paynow_qryptal: str) -> None:
    for published in (paynow_qryptal, PAYNOW_DEMO2):
        payload = parse_payload(published)
        assert detect_profile(payload) == "paynow"
        assert profile_violations(payload) == []
    assert parse_payload(paynow_qryptal).amount_minor == 5000


def test_overlong_merchant_name_is_shown_not_refused() -> None:
    payload = parse_payload(PAYNOW_DEMO1, strict=False)
    assert [(v.code, v.tag) for v in payload_violations(payload)] == [("bad_length", "59")]
    assert detect_profile(payload) == "paynow"


def test_paynow_rules() -> None:
    assert rule_codes(paynow_tags()) == []
    assert rule_codes(paynow_tags(**{"01": "0", "02": "+6591234567"})) == []
    assert rule_codes(paynow_tags(**{"01": "0", "02": "91234567"})) == [("bad_proxy", "26.02")]
    assert rule_codes(paynow_tags(**{"02": "ABC"})) == [("bad_proxy", "26.02")]
    assert rule_codes(paynow_tags(**{"01": "5"})) == [("bad_proxy", "26")]
    assert rule_codes(paynow_tags(**{"03": "0"})) == [("amount_required", "54")]
    assert rule_codes(paynow_tags(**{"03": "2"})) == [("bad_format", "26")]
    assert rule_codes(paynow_tags(**{"04": "20261301"})) == [("bad_format", "26.04")]
    assert rule_codes(paynow_tags(**{"04": "20241130230000"})) == []
    no_flag = paynow_tags()
    del no_flag["26"]["03"]  # type: ignore[union-attr]
    assert rule_codes(no_flag) == [("missing_tag", "26.03")]
    assert rule_codes({**paynow_tags(), "53": "458"}) == [("wrong_currency", "53")]


@pytest.mark.parametrize("uen", ["201403121W", "12345678A", "S62SS0057G", "T08GB0001A"])
def test_paynow_accepts_every_uen_form(uen: str) -> None:
    assert rule_codes(paynow_tags(**{"02": uen})) == []


def test_build_paynow_refuses_what_paynow_would_refuse() -> None:
    with pytest.raises(ProfileRuleError) as caught:
        build_paynow("mobile", "91234567")
    assert caught.value.code == "bad_proxy"
    with pytest.raises(ProfileRuleError, match="fixes the amount"):
        build_paynow("uen", "201403121W", editable=False)
    with pytest.raises(BadArgumentError):
        build_paynow("nric", "S1234567D")  # type: ignore[arg-type]
    with pytest.raises(EmvcoError) as too_long:
        build_paynow("uen", "201403121W", reference="R" * 26)
    assert too_long.value.code == "bad_length"


@given(
    amount=st.none() | st.integers(1, 10**9),
    editable=st.booleans(),
    mobile=st.from_regex(r"\+65[89][0-9]{7}", fullmatch=True),
    expiry=st.none() | st.dates(date(2020, 1, 1), date(2099, 12, 31)),
)
def test_paynow_codes_read_back(
    amount: int | None, editable: bool, mobile: str, expiry: date | None
) -> None:
    if amount is None and not editable:
        editable = True
    payload = parse_payload(
        build_paynow("mobile", mobile, amount_minor=amount, editable=editable, expiry=expiry)
    )
    account = payload.template("26")
    assert account is not None
    assert (account["02"], account["03"]) == (mobile, "1" if editable else "0")
    assert account.get("04") == (None if expiry is None else expiry.strftime("%Y%m%d"))
    assert (payload.amount_minor, payload.currency) == (amount, "SGD")
    assert profile_violations(payload) == []


# --- DuitNow ---------------------------------------------------------------------


def test_published_duitnow_code_reads_as_duitnow() -> None:
    payload = parse_payload(DUITNOW_BANGI, strict=False)
    assert detect_profile(payload) == "duitnow"
    assert profile_violations(payload) == []
    assert (payload.amount_minor, payload.currency) == (1000, "MYR")
    assert payload_violations(payload) == [
        Violation("bad_format", "the payload format indicator (00) is '02', not '01'", "00")
    ]


def test_build_duitnow_and_its_rules() -> None:
    text = build_duitnow("890054", "0000000000091507", amount_minor=250, reference="T-1")
    payload = parse_payload(text)
    assert payload.template("26") == {
        "00": "A0000006150001",
        "01": "890054",
        "02": "0000000000091507",
    }
    assert (detect_profile(payload), payload.amount_minor, payload.country) == (
        "duitnow",
        250,
        "MY",
    )
    with pytest.raises(ProfileRuleError) as caught:
        build_duitnow("8900", "1")
    assert (caught.value.code, caught.value.tag) == ("bad_proxy", "26.01")


# --- no scheme -------------------------------------------------------------------


def test_code_of_no_known_scheme_has_no_profile(emvco_example: str) -> None:
    assert detect_profile(emvco_example) is None
    assert profile_violations(emvco_example) == []


def test_first_known_template_decides_the_scheme() -> None:
    tags = paynow_tags()
    tags["27"] = {"00": "A0000006150001", "01": "890054", "02": "1"}
    assert detect_profile(encode_payload(tags)) == "paynow"
