"""Derived account and transfer ids are UUIDv5 in the ledger's namespace,
exactly: they make postings idempotent across releases and machines, so a
faster derivation must never give a different id. A tap's fare transfer id
is the same hash behind its reader's hash and its sequence on that reader
(a UUIDv8), so a reader's fares are inserted in order."""

from __future__ import annotations

import copy
import pickle
import uuid

from hypothesis import given
from hypothesis import strategies as st

from clearing.ledger import (
    AccountCode,
    AccountRef,
    account_id_for,
    fare_transfer_id,
    transfer_id_for,
)
from clearing.ledger._accounts import LEDGER_NAMESPACE, _uuid

names = st.text(st.characters(exclude_categories=("Cs",)), max_size=80)


@given(names, names, st.sampled_from(list(AccountCode)), st.one_of(st.none(), names))
def test_an_account_id_is_the_uuid5_of_its_meaning(participant, currency, code, medium):
    ref = AccountRef(participant, code, currency, medium)
    name = "\x1f".join(("account", participant, code.value, currency, medium or ""))
    assert account_id_for(ref) == uuid.uuid5(LEDGER_NAMESPACE, name)


@given(names, names)
def test_a_transfer_id_is_the_uuid5_of_its_event(kind, source_ref):
    expected = uuid.uuid5(LEDGER_NAMESPACE, f"transfer\x1f{kind}\x1f{source_ref}")
    assert transfer_id_for(kind, source_ref) == expected


def test_ids_stay_what_earlier_releases_derived():
    ref = AccountRef("smrt", AccountCode.FARE_REVENUE, "SGD")
    assert account_id_for(ref) == uuid.UUID("6c4e7204-0558-51b0-9e23-6cc2a8339d94")
    assert transfer_id_for("fare", "tap-1") == uuid.UUID("20b7ac57-0785-54dd-9e35-17af2625c15f")


sequences = st.integers(min_value=0, max_value=2**40)


@given(names, sequences, names)
def test_a_fare_id_is_its_readers_hash_and_sequence_then_its_fare_hash(device, sequence, tap_id):
    fare = fare_transfer_id(device, sequence, tap_id)
    assert fare.version == 8
    assert fare.variant == uuid.RFC_4122
    reader = uuid.uuid5(LEDGER_NAMESPACE, f"device\x1f{device}")
    assert fare.int >> 112 == reader.int >> 112
    assert (fare.int >> 80) & 0xFFFFFFFF == sequence % 2**32
    # Below them, the bits of the fare's UUIDv5, version and variant aside.
    hashed = transfer_id_for("fare", tap_id)
    outside_version = ((1 << 80) - 1) & ~((0xF << 76) | (0x3 << 62))
    assert fare.int & outside_version == hashed.int & outside_version


@given(names, names, names, st.integers(min_value=0, max_value=2**32 - 2), st.data())
def test_a_readers_fare_ids_sort_as_its_sequence(device, first, second, sequence, data):
    later = data.draw(st.integers(min_value=sequence + 1, max_value=2**32 - 1))
    assert fare_transfer_id(device, sequence, first) < fare_transfer_id(device, later, second)


def test_fare_ids_of_one_sequence_differ_by_tap():
    ids = {fare_transfer_id("gate-1", 7, f"gate-1-{n}") for n in range(1000)}
    assert len(ids) == 1000


def test_fare_ids_stay_what_this_release_derives():
    assert fare_transfer_id("gate-1", 42, "tap-1") == uuid.UUID(
        "b0820000-002a-84dd-9e35-17af2625c15f"
    )


@given(st.integers(min_value=0, max_value=2**128 - 1))
def test_a_derived_id_is_a_uuid_like_any_other(value):
    """Ids are made without ``UUID.__init__``; everything a caller does with
    one (compare, hash, print, pickle, read its fields) must not tell."""
    made, usual = _uuid(value), uuid.UUID(int=value)
    assert made == usual
    assert hash(made) == hash(usual)
    assert {made: 1}[usual] == 1
    assert (str(made), repr(made), made.bytes, made.version) == (
        str(usual), repr(usual), usual.bytes, usual.version,
    )  # fmt: skip
    assert made.is_safe is usual.is_safe
    assert pickle.loads(pickle.dumps(made)) == usual
    assert copy.deepcopy(made) == usual
    assert sorted([uuid.UUID(int=value // 2), made]) == sorted([uuid.UUID(int=value // 2), usual])
