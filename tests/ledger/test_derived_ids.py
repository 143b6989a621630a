"""Derived account and transfer ids are UUIDv5 in the ledger's namespace,
exactly: they make postings idempotent across releases and machines, so a
faster derivation must never give a different id."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from clearing.ledger import AccountCode, AccountRef, account_id_for, transfer_id_for
from clearing.ledger._accounts import LEDGER_NAMESPACE

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
