"""A small multi-currency scheme in a real database, driven through the
engine's own functions: fares and late adjustments posted as the pricers
post them, cycles closed at cut-offs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from clearing.registry import register_medium, register_participant
from clearing.storage import Database
from clearing.values import Participant, Role
from tests.integration.conftest import pki, world  # noqa: F401  (the mTLS server fixtures)

START = datetime(2026, 5, 4, 19, 0, tzinfo=UTC)  # 03:00 in Singapore the next day
HOUR = timedelta(hours=1)
HOUSE = "clearing-house"
OPERATORS = {"smrt": "SGD", "sbs": "SGD", "rapidkl": "MYR"}
ISSUERS = {"ezlink": "SGD", "touchngo": "MYR"}
MEDIA = {f"{issuer}-{n}": issuer for issuer in ISSUERS for n in range(3)}


def populate(database: Database) -> None:
    with database.transaction() as session:
        register_participant(
            session, Participant(HOUSE, "House", Role.CLEARING_HOUSE, "SGD"), START
        )
        for operator, currency in OPERATORS.items():
            register_participant(
                session, Participant(operator, operator, Role.OPERATOR, currency), START
            )
        for issuer, currency in ISSUERS.items():
            register_participant(session, Participant(issuer, issuer, Role.ISSUER, currency), START)
        for token, issuer in MEDIA.items():
            register_medium(session, token, issuer, START)


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = Database(database_url)
    db.migrate()
    populate(db)
    try:
        yield db
    finally:
        db.dispose()
