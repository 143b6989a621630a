"""The driver-level transfer write refuses what the database refuses with
SQLAlchemy's own exceptions, on both databases, so callers that retry a
race lost on a key (a concurrent upload of the same tap) catch one type."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError

from clearing.ledger import Transfer, TransferFlags
from clearing.ledger._store import _insert_transfers, load_transfers


def test_writing_a_stored_transfer_again_raises_integrity_error(ledger):
    ledger.account("ann")
    ledger.account("bank", code="bank")
    transfer = Transfer(
        ledger.id("top-up-1"), ledger.id("bank"), ledger.id("ann"), 500, "SGD", "top_up",
        "", TransferFlags.NONE, None, 0, ledger.now,
    )  # fmt: skip
    with ledger.database.transaction() as session:
        _insert_transfers(session, [transfer])

    with pytest.raises(IntegrityError), ledger.database.transaction() as session:
        _insert_transfers(session, [transfer])

    with ledger.database.transaction() as session:
        assert load_transfers(session, [transfer.transfer_id]) == {transfer.transfer_id: transfer}
