"""Debits and loads as a card signs them: clearing accepts exactly what the card
signed, and nothing a reader or anyone else altered on the way."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from farebridge.codecs.cards import (
    CARD_DEBIT_DOMAIN,
    CardDebit,
    CardError,
    CardLoad,
    CardMacError,
    CardRecordError,
    aes_cmac,
    debit_from_bytes,
    debit_mac_input,
    debit_to_bytes,
    load_from_bytes,
    load_to_bytes,
    sign_debit,
    sign_load,
    verify_debit,
    verify_load,
    verify_transaction,
)

from .conftest import ALICE, BOB, DAY, key_of

ALICE_KEY = key_of(ALICE)
BOB_KEY = key_of(BOB)


def _fare(**changes: Any) -> CardDebit:
    """Alice pays 1,200 at the metro gate at 08:15, leaving 3,800."""
    fields: dict[str, Any] = {
        "card_id": ALICE,
        "counter": 7,
        "amount_minor": 1200,
        "balance_after_minor": 3800,
        "device_id": "metro-central-gate-1",
        "tapped_at": DAY + timedelta(hours=1, minutes=15),
    }
    return sign_debit(ALICE_KEY, **(fields | changes))


def test_the_mac_input_is_the_documented_layout() -> None:
    debit = _fare(card_id="c1", device_id="g", tapped_at=datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC))
    assert debit_mac_input(debit) == (
        b"farebridge.v1.CardDebit\x00"
        + bytes.fromhex("0002") + b"c1"  # card_id, length-prefixed UTF-8
        + bytes.fromhex("00000007")  # counter
        + bytes.fromhex("000004b0")  # amount_minor 1200
        + bytes.fromhex("0000000000000ed8")  # balance_after_minor 3800
        + bytes.fromhex("0001") + b"g"  # device_id
        + bytes.fromhex("00000000000f4240")  # 1 s after the epoch, in microseconds
    )  # fmt: skip
    assert debit.mac == aes_cmac(ALICE_KEY, debit_mac_input(debit))


def test_a_negative_balance_is_carried_in_twos_complement() -> None:
    """Octopus-style purses may dip below zero on the last ride."""
    debit = _fare(amount_minor=1200, balance_after_minor=-350)
    assert bytes.fromhex("fffffffffffffea2") in debit_mac_input(debit)
    assert debit_from_bytes(debit_to_bytes(debit)).balance_after_minor == -350


def test_a_genuine_debit_verifies_under_its_card_key() -> None:
    verify_debit(ALICE_KEY, _fare())
    verify_transaction(ALICE_KEY, _fare())


def test_another_cards_key_does_not_verify_it() -> None:
    with pytest.raises(CardMacError, match="does not verify"):
        verify_debit(BOB_KEY, _fare())


def test_a_debit_mac_never_passes_as_a_load() -> None:
    """The domain tag separates the two: a reader cannot turn a fare into a top-up."""
    debit = _fare()
    as_load = CardLoad(
        debit.card_id,
        debit.counter,
        debit.amount_minor,
        debit.balance_after_minor,
        debit.device_id,
        debit.tapped_at,
        debit.mac,
    )
    with pytest.raises(CardMacError):
        verify_load(ALICE_KEY, as_load)
    with pytest.raises(CardRecordError, match="domain tag"):
        load_from_bytes(debit_to_bytes(debit))


_FIELD_CHANGES = st.one_of(
    st.tuples(st.just("card_id"), st.text(min_size=1, max_size=20)),
    st.tuples(st.just("counter"), st.integers(0, 2**32 - 1)),
    st.tuples(st.just("amount_minor"), st.integers(0, 2**32 - 1)),
    st.tuples(st.just("balance_after_minor"), st.integers(-(2**63), 2**63 - 1)),
    st.tuples(st.just("device_id"), st.text(min_size=1, max_size=20)),
    st.tuples(st.just("tapped_at"), st.datetimes(timezones=st.just(UTC))),
)


@given(change=_FIELD_CHANGES)
def test_changing_any_field_breaks_the_mac(change: tuple[str, Any]) -> None:
    original = _fare()
    name, value = change
    altered = dataclasses.replace(original, **{name: value})
    assume(altered != original)
    with pytest.raises(CardMacError):
        verify_debit(ALICE_KEY, altered)


@given(bit=st.integers(0, 127))
def test_flipping_any_mac_bit_breaks_the_mac(bit: int) -> None:
    original = _fare()
    mac = bytearray(original.mac)
    mac[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(CardMacError):
        verify_debit(ALICE_KEY, dataclasses.replace(original, mac=bytes(mac)))


@given(bit=st.integers(0, 8 * len(debit_to_bytes(_fare())) - 1))
def test_flipping_any_transported_bit_is_caught(bit: int) -> None:
    """A flipped bit either makes the bytes undecodable or the MAC fail;
    it never yields a record that verifies."""
    data = bytearray(debit_to_bytes(_fare()))
    data[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(CardError):
        verify_debit(ALICE_KEY, debit_from_bytes(bytes(data)))


_DEBITS = st.builds(
    sign_debit,
    st.binary(min_size=16, max_size=16),
    card_id=st.text(min_size=1, max_size=40),
    counter=st.integers(0, 2**32 - 1),
    amount_minor=st.integers(0, 2**32 - 1),
    balance_after_minor=st.integers(-(2**63), 2**63 - 1),
    device_id=st.text(min_size=1, max_size=40),
    tapped_at=st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=8))])),
)


@given(debit=_DEBITS)
def test_debits_survive_transport_byte_for_byte(debit: CardDebit) -> None:
    data = debit_to_bytes(debit)
    decoded = debit_from_bytes(data)
    assert decoded == debit
    assert debit_to_bytes(decoded) == data
    assert data.startswith(CARD_DEBIT_DOMAIN)


def test_loads_survive_transport_and_verify() -> None:
    load = sign_load(
        ALICE_KEY,
        card_id=ALICE,
        counter=8,
        amount_minor=10000,
        balance_after_minor=13800,
        device_id="topup-central-kiosk",
        loaded_at=DAY,
    )
    decoded = load_from_bytes(load_to_bytes(load))
    assert decoded == load
    verify_load(ALICE_KEY, decoded)
    with pytest.raises(CardMacError):
        verify_load(BOB_KEY, decoded)


def test_times_are_normalized_to_utc_with_microseconds() -> None:
    hong_kong = timezone(timedelta(hours=8))
    debit = _fare(tapped_at=datetime(2026, 3, 2, 15, 15, 0, 123456, tzinfo=hong_kong))
    assert debit.tapped_at == datetime(2026, 3, 2, 7, 15, 0, 123456, tzinfo=UTC)
    assert debit.tapped_at.tzinfo is UTC
    assert debit_from_bytes(debit_to_bytes(debit)).tapped_at.microsecond == 123456


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"tapped_at": datetime(2026, 3, 2, 8, 15)}, "tapped_at must be an aware datetime"),
        ({"counter": 2**32}, "counter must be an integer in 0..4294967295"),
        ({"counter": -1}, "counter must be an integer"),
        ({"amount_minor": -100}, "amount_minor must be an integer in 0..4294967295"),
        ({"amount_minor": 12.5}, "amount_minor must be an integer"),
        ({"amount_minor": True}, "amount_minor must be an integer"),
        ({"balance_after_minor": 2**63}, "balance_after_minor must be an integer"),
        ({"card_id": ""}, "card_id must be a non-empty string"),
        ({"device_id": "g" * 65536}, "device_id has 65536 UTF-8 bytes; at most 65535 fit"),
    ],
)
def test_out_of_range_fields_are_refused_before_signing(
    changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(CardRecordError, match=message):
        _fare(**changes)


def test_a_mac_must_have_16_bytes() -> None:
    with pytest.raises(CardRecordError, match="16 bytes, not 8"):
        dataclasses.replace(_fare(), mac=bytes(8))


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda data: data[:-1], "16-byte MAC must end the record, not 15 bytes"),
        (lambda data: data + b"\x00", "not 17 bytes"),
        (lambda data: data[:30], "the record ends inside"),
        (lambda data: b"farebridge.v1.TapBatch\x00" + data[24:], "domain tag"),
        (lambda data: data[:24] + b"\x00\x02\xff\xfe" + data[24 + 2 + len(ALICE) :], "UTF-8"),
        (lambda data: data[:24] + b"\x00\x00" + data[24 + 2 + len(ALICE) :], "non-empty"),
    ],
)
def test_malformed_bytes_are_refused_with_a_reason(mangle: Any, message: str) -> None:
    with pytest.raises(CardRecordError, match=message):
        debit_from_bytes(mangle(debit_to_bytes(_fare())))


def test_a_time_beyond_the_calendar_is_refused() -> None:
    data = bytearray(debit_to_bytes(_fare()))
    time_at = len(data) - 16 - 8
    data[time_at : time_at + 8] = (2**63 - 1).to_bytes(8, "big")
    with pytest.raises(CardRecordError, match="outside the years"):
        debit_from_bytes(bytes(data))
