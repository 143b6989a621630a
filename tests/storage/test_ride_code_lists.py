"""The deny list a central ride-code check uses: read for the batch's own
codes only, yet exactly the list in force at each tap's instant."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from clearing.media import RideCodeLists
from clearing.registry import register_participant
from clearing.storage import Database
from clearing.storage.models import DenyListChangeRow
from clearing.values import Participant, Role
from farebridge.codecs.ridecode import CredentialId, generate_code, issue_credential

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = Database(database_url)
    db.migrate()
    with db.transaction() as session:
        for issuer in ("tapwallet", "payroute"):
            register_participant(session, Participant(issuer, issuer, Role.ISSUER, "SGD"), T0)
    try:
        yield db
    finally:
        db.dispose()


def _code(token: str, serial: int) -> str:
    phone = Ed25519PrivateKey.generate()
    credential = issue_credential(
        Ed25519PrivateKey.generate(), "tapwallet", token, phone.public_key(),
        category="adult", expires_at=T0 + timedelta(days=30), serial=serial,
    )  # fmt: skip
    return generate_code(credential, phone, T0, counter=1)


def _change(
    version: int, minutes: int, action: str, token: str | None, serial: int | None
) -> DenyListChangeRow:
    return DenyListChangeRow(
        version=version, issuer_id="tapwallet", medium_token=token, serial=serial,
        action=action, reason="lost phone", changed_at=T0 + minutes * MINUTE,
    )  # fmt: skip


def test_each_codes_standing_follows_the_changes_to_its_rider_and_credential(
    database: Database,
) -> None:
    history = [
        _change(1, 10, "block", None, 7),  # ana's credential, lost at 08:10
        _change(2, 20, "block", "tok-zoe", None),  # someone else entirely
        _change(3, 30, "unblock", None, 7),  # found again at 08:30
        _change(4, 40, "block", "tok-ben", None),  # ben himself, from 08:40
        _change(5, 50, "block", None, 99),  # another credential
    ]
    with database.transaction() as session:
        session.add_all(history)
    ana, ben = _code("tok-ana", 7), _code("tok-ben", 8)
    with database.transaction() as session:
        lists = RideCodeLists(session, [ana, ben, "FB1:not a code"])
    ana_credential, ben_credential = CredentialId("tapwallet", 7), CredentialId("tapwallet", 8)
    standing = {
        minutes: (
            lists.deny_at(T0 + minutes * MINUTE).denies("tok-ana", ana_credential),
            lists.deny_at(T0 + minutes * MINUTE).denies("tok-ben", ben_credential),
        )
        for minutes in (5, 10, 25, 30, 45, 60)
    }
    assert standing == {
        5: (False, False),
        10: (True, False),
        25: (True, False),
        30: (False, False),
        45: (False, True),
        60: (False, True),
    }
    # What concerns no code of the batch is not even read.
    everything = lists.deny_at(T0 + 60 * MINUTE)
    assert "tok-zoe" not in everything.rider_tokens
    assert CredentialId("tapwallet", 99) not in everything.serials
