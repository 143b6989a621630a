"""EMVCo MPM TLV: the checksum, the specification's example, exact round trips,
and a distinct error code for every way a payload can be unreadable or wrong."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from farebridge.codecs.emvco import (
    BadArgumentError,
    BadCrcError,
    BadFormatError,
    BadLengthError,
    BadTagIdError,
    DuplicateTagError,
    EmvcoError,
    MisplacedTagError,
    MissingTagError,
    TrailingDataError,
    TruncatedError,
    build_payload,
    crc16_ccitt,
    crc_text,
    currency_of,
    encode_payload,
    parse_amount,
    parse_payload,
    payload_violations,
)

SHOP = {
    "00": "01",
    "01": "11",
    "02": "4000123456789012",
    "52": "5251",
    "53": "840",
    "58": "US",
    "59": "ABC Hammers",
    "60": "New York",
}
"""The base example of EMVCo MPM v1.1 section 7 (a Visa merchant in New York)."""


def shop(**changes: str | None) -> str:
    """SHOP with ``changes`` (``t54="1.00"``; None removes), CRC recomputed."""
    tags: dict[str, str] = dict(SHOP)
    for key, value in changes.items():
        if value is None:
            del tags[key[1:]]
        else:
            tags[key[1:]] = value
    return encode_payload(tags)


def codes(text: str) -> list[str]:
    return [v.code for v in payload_violations(parse_payload(text, strict=False))]


# --- checksum ---------------------------------------------------------------


def test_crc_has_the_catalogued_check_value() -> None:
    # CRC RevEng catalogue, CRC-16/IBM-3740 (alias CRC-16/CCITT-FALSE): check=0x29b1.
    assert crc16_ccitt(b"123456789") == 0x29B1


def test_crc_covers_utf8_bytes_not_characters(emvco_example: str) -> None:
    covered = emvco_example[:-4]
    assert crc_text(covered) == "A13A"
    assert crc16_ccitt(covered.encode("utf-8")) == 0xA13A
    assert crc16_ccitt(covered.encode("utf-16-be")) != 0xA13A


# --- the specification's example ------------------------------------------------


def test_emvco_example_reads_with_templates_and_character_lengths(emvco_example: str) -> None:
    payload = parse_payload(emvco_example)
    assert list(payload.tags) == [
        "00", "01", "29", "31", "52", "58", "59", "60", "64", "54", "53", "55", "62", "91", "63"
    ]  # fmt: skip
    assert payload.template("29") == {"00": "D15600000000", "05": "A93FO3230Q"}
    assert payload.template("64") == {"00": "ZH", "01": "最佳运输", "02": "北京"}
    assert payload.template("62") == {"03": "1234", "06": "***", "07": "A6008667", "09": "ME"}
    assert payload.template("91") == {"00": "A011223344998877", "07": "12345678"}
    assert (payload.amount_minor, payload.currency) == (2372, "CNY")
    assert (payload.merchant_name, payload.merchant_city, payload.country) == (
        "BEST TRANSPORT",
        "BEIJING",
        "CN",
    )
    assert payload.is_dynamic
    assert not payload.is_static
    assert payload_violations(payload) == []


def test_emvco_example_round_trips_exactly(emvco_example: str) -> None:
    assert parse_payload(emvco_example).to_string() == emvco_example


def test_parsed_payload_is_immutable(emvco_example: str) -> None:
    payload = parse_payload(emvco_example)
    with pytest.raises(TypeError):
        payload.tags["59"] = "SOMEONE ELSE"  # type: ignore[index]
    template = payload.template("62")
    assert template is not None
    with pytest.raises(TypeError):
        template["03"] = "9999"  # type: ignore[index]


def test_unreserved_template_that_is_no_tlv_stays_text() -> None:
    # DuitNow codes in circulation put an opaque reference in 82.
    text = shop(t82="ab12cd34")
    payload = parse_payload(text)
    assert payload.tags["82"] == "ab12cd34"
    assert payload.to_string() == text


# --- amounts ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [("12.50", "SGD", 1250), ("98", "USD", 9800), ("98.7", "USD", 9870), ("500", "JPY", 500),
     ("1.234", "KWD", 1234), ("0.05", "702", 5), ("7.", "THB", 700)],
)  # fmt: skip
def test_amounts_count_exact_minor_units(amount: str, currency: str, minor: int) -> None:
    assert parse_amount(amount, currency) == minor


@pytest.mark.parametrize(("amount", "currency"), [("1.5", "JPY"), ("1.001", "SGD")])
def test_amount_finer_than_the_currency_is_refused(amount: str, currency: str) -> None:
    with pytest.raises(BadFormatError, match="more decimals"):
        parse_amount(amount, currency)


@pytest.mark.parametrize("amount", ["-1.00", "+1", "1,00", "1e3", "", ".", "\u0661\u0662"])
def test_amount_must_be_digits_with_an_optional_point(amount: str) -> None:
    with pytest.raises(BadFormatError):
        parse_amount(amount, "SGD")


def test_currency_table_knows_both_codes_and_exponents() -> None:
    assert currency_of("SGD") == currency_of("702")
    yen = currency_of("JPY")
    assert yen is not None
    assert yen.exponent == 0
    assert currency_of("XAU") is None  # gold has no minor unit to count


# --- building ------------------------------------------------------------------


def test_build_payload_writes_a_conforming_code_in_id_order() -> None:
    text = build_payload(
        merchant_accounts={"26": {"00": "io.example", "01": "M-1"}},
        merchant_name="Kopi Stall",
        merchant_city="Singapore",
        country="SG",
        currency="SGD",
        amount_minor=350,
        additional_data={"05": "ORDER-9"},
    )
    payload = parse_payload(text)
    assert list(payload.tags) == ["00", "01", "26", "52", "53", "54", "58", "59", "60", "62", "63"]
    assert (payload.amount_minor, payload.currency, payload.text("54")) == (350, "SGD", "3.50")
    assert payload.is_dynamic
    assert text[-4:] == crc_text(text[:-4])


def test_build_payload_without_amount_is_static() -> None:
    text = build_payload(
        merchant_accounts={"02": "4000123456789012"},
        merchant_name="A",
        merchant_city="B",
        country="US",
        currency="USD",
    )
    assert parse_payload(text).is_static


def test_build_payload_refuses_what_it_cannot_write() -> None:
    base: dict[str, Any] = {
        "merchant_name": "A",
        "merchant_city": "B",
        "country": "SG",
        "currency": "SGD",
    }
    with pytest.raises(MissingTagError, match="02-51"):
        build_payload(merchant_accounts={}, **base)
    with pytest.raises(BadArgumentError, match="'62' is not a merchant account"):
        build_payload(merchant_accounts={"62": "x"}, **base)
    with pytest.raises(BadArgumentError, match="positive"):
        build_payload(merchant_accounts={"02": "x"}, amount_minor=0, **base)
    with pytest.raises(BadArgumentError, match="ISO 4217"):
        build_payload(merchant_accounts={"02": "x"}, **{**base, "currency": "XYZ"})
    with pytest.raises(BadLengthError, match="59"):
        build_payload(merchant_accounts={"02": "x"}, **{**base, "merchant_name": "N" * 26})
    with pytest.raises(BadLengthError, match="54 is 14 characters"):
        build_payload(merchant_accounts={"02": "x"}, amount_minor=10**12, **base)


_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=25)


@given(
    name=_TEXT,
    city=_TEXT.map(lambda s: s[:15]),
    amount=st.none() | st.integers(1, 10**12 - 1),  # 13 characters in every currency
    currency=st.sampled_from(["SGD", "THB", "MYR", "JPY", "KWD", "IDR"]),
    reference=st.none() | _TEXT,
    account=st.dictionaries(st.sampled_from([f"{n:02d}" for n in range(1, 10)]), _TEXT, max_size=3),
)
def test_built_payloads_read_back_to_what_was_asked(
    name: str,
    city: str,
    amount: int | None,
    currency: str,
    reference: str | None,
    account: dict[str, str],
) -> None:
    text = build_payload(
        merchant_accounts={"27": {"00": "io.example", **account}},
        merchant_name=name,
        merchant_city=city,
        country="SG",
        currency=currency,
        amount_minor=amount,
        additional_data=None if reference is None else {"01": reference},
    )
    payload = parse_payload(text)
    assert payload.to_string() == text
    assert (payload.merchant_name, payload.merchant_city) == (name, city)
    assert (payload.amount_minor, payload.currency) == (amount, currency)
    assert payload.is_dynamic is (amount is not None)
    assert payload.template("27") == {"00": "io.example", **account}


@given(
    st.dictionaries(
        st.sampled_from(["02", "15", "52", "55", "59", "61", "70", "99"]),
        st.text(min_size=1, max_size=99),
        min_size=1,
    )
)
def test_any_primitive_tags_round_trip_through_the_lenient_reader(tags: dict[str, str]) -> None:
    text = encode_payload({"00": "01", **tags})
    assert parse_payload(text, strict=False).to_string() == text


# --- unreadable payloads: each has its own code -----------------------------


def test_empty_payload_is_truncated() -> None:
    with pytest.raises(TruncatedError):
        parse_payload("")


def test_payload_cut_short_is_truncated() -> None:
    text = shop()
    with pytest.raises(TruncatedError) as caught:
        parse_payload(text[:30])
    assert caught.value.code == "truncated"


def test_value_longer_than_what_remains_is_truncated() -> None:
    with pytest.raises(TruncatedError, match="declares 40 characters"):
        parse_payload("00020101021102404000123456789012")


def test_non_digit_id_is_bad_tag_id() -> None:
    with pytest.raises(BadTagIdError) as caught:
        parse_payload("000201XX0211")
    assert caught.value.code == "bad_tag_id"


@pytest.mark.parametrize("length", ["A2", " 2", "00"])
def test_bad_length_field_is_bad_length(length: str) -> None:
    with pytest.raises(BadLengthError) as caught:
        parse_payload(f"00020101{length}11")
    assert caught.value.code == "bad_length"
    assert caught.value.tag == "01"


def test_crc_of_the_wrong_length_is_bad_length() -> None:
    body = shop()[:-8]
    with pytest.raises(BadLengthError, match="63"):
        parse_payload(body + "6305ABCDE")


def test_altered_payload_is_bad_crc(emvco_example: str) -> None:
    altered = emvco_example.replace("23.72", "93.72")
    with pytest.raises(BadCrcError) as caught:
        parse_payload(altered)
    assert caught.value.code == "bad_crc"
    assert caught.value.tag == "63"
    assert "A13A" in str(caught.value)


def test_non_hex_crc_is_bad_crc() -> None:
    with pytest.raises(BadCrcError, match="hex"):
        parse_payload(shop()[:-4] + "WXYZ")


def test_crc_may_be_written_in_lower_case() -> None:
    text = shop()
    assert parse_payload(text[:-4] + text[-4:].lower()).text("63") == text[-4:].lower()


def test_damage_is_reported_as_bad_crc_before_anything_else() -> None:
    text = shop()
    damaged = text[:6] + "9" + text[7:]  # a length digit of 01 flipped
    with pytest.raises(BadCrcError):
        parse_payload(damaged)


def test_data_after_the_crc_is_trailing_data() -> None:
    with pytest.raises(TrailingDataError) as caught:
        parse_payload(shop() + "5802SG")
    assert caught.value.code == "trailing_data"


def test_missing_crc_is_missing_tag() -> None:
    with pytest.raises(MissingTagError, match="63"):
        parse_payload(shop()[:-8])


def test_missing_format_indicator_is_missing_tag() -> None:
    with pytest.raises(MissingTagError, match="00"):
        parse_payload(shop(t00=None))


def test_format_indicator_not_first_is_misplaced_tag() -> None:
    text = encode_payload({"01": "11", "00": "01", **{k: v for k, v in SHOP.items() if k > "01"}})
    with pytest.raises(MisplacedTagError) as caught:
        parse_payload(text)
    assert (caught.value.code, caught.value.tag) == ("misplaced_tag", "00")


def test_repeated_id_is_duplicate_tag() -> None:
    text = shop()
    again = text[:-8] + "5802SG6304"
    with pytest.raises(DuplicateTagError, match="58"):
        parse_payload(again + crc_text(again))


def test_repeated_id_inside_a_template_is_duplicate_tag() -> None:
    with pytest.raises(DuplicateTagError) as caught:
        parse_payload(shop(t62="0102AB0102CD"))
    assert caught.value.tag == "62.01"


def test_torn_template_names_the_template() -> None:
    with pytest.raises(TruncatedError) as caught:
        parse_payload(shop(t26="0009SG.PAYNOW0199"))
    assert caught.value.tag == "26.01"


def test_every_error_is_a_value_error_with_a_code() -> None:
    with pytest.raises(ValueError, match="checksum") as caught:
        parse_payload(shop()[:-4] + "0000")
    assert isinstance(caught.value, EmvcoError)


# --- EMVCo field rules: reported as violations, raised when strict -------------


def test_conforming_payload_has_no_violations() -> None:
    assert codes(shop()) == []


@pytest.mark.parametrize("tag", ["52", "53", "58", "59", "60"])
def test_each_mandatory_data_object(tag: str) -> None:
    text = shop(**{f"t{tag}": None})
    assert codes(text) == ["missing_tag"]
    with pytest.raises(MissingTagError, match=f"\\({tag}\\)"):
        parse_payload(text)


def test_merchant_account_information_is_mandatory() -> None:
    assert codes(shop(t02=None)) == ["missing_tag"]


@pytest.mark.parametrize(
    ("change", "tag"),
    [
        ({"t00": "02"}, "00"),
        ({"t01": "13"}, "01"),
        ({"t52": "52A1"}, "52"),
        ({"t53": "USD"}, "53"),
        ({"t53": "999"}, "53"),
        ({"t54": "-5.00"}, "54"),
        ({"t54": "5.001"}, "54"),
        ({"t58": "us"}, "58"),
        ({"t58": "USA"}, "58"),
        ({"t59": "Caf\u00e9 Hammers"}, "59"),
        ({"t55": "04"}, "55"),
        ({"t55": "03", "t57": "0.00"}, "57"),
    ],
)
def test_malformed_values_are_bad_format(change: dict[str, str], tag: str) -> None:
    text = shop(**change)
    found = payload_violations(parse_payload(text, strict=False))
    assert [(v.code, v.tag) for v in found] == [("bad_format", tag)]
    with pytest.raises(BadFormatError) as caught:
        parse_payload(text)
    assert caught.value.tag == tag


@pytest.mark.parametrize(("tag", "limit"), [("59", 25), ("60", 15), ("61", 10), ("54", 13)])
def test_values_over_their_limit_are_bad_length(tag: str, limit: int) -> None:
    assert codes(shop(**{f"t{tag}": "1" * limit})) == []
    assert codes(shop(**{f"t{tag}": "1" * (limit + 1)})) == ["bad_length"]


def test_additional_data_references_are_at_most_25_characters() -> None:
    assert codes(shop(t62="0125" + "B" * 25)) == []
    assert codes(shop(t62="0126" + "B" * 26)) == ["bad_length"]


def test_convenience_fee_without_its_indicator_is_orphan_tag() -> None:
    assert codes(shop(t56="1.00")) == ["orphan_tag"]
    assert codes(shop(t55="02", t56="1.00")) == []
    assert codes(shop(t57="5")) == ["orphan_tag"]


def test_merchant_account_template_needs_its_identifier() -> None:
    found = payload_violations(parse_payload(shop(t26="0103ABC"), strict=False))
    assert [(v.code, v.tag) for v in found] == [("missing_tag", "26.00")]


def test_language_template_needs_language_and_name() -> None:
    assert codes(shop(t64="0002ZH0104最佳运输")) == []
    assert codes(shop(t64="0002ZH")) == ["missing_tag"]


def test_strict_reading_reports_how_many_more_problems() -> None:
    with pytest.raises(MissingTagError, match="and 1 more problem"):
        parse_payload(shop(t59=None, t60=None))
