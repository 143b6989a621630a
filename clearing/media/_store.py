"""Loading what a batch's proofs are checked against, and recording them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import insert, select, tuple_
from sqlalchemy.orm import Session

from clearing.media._proofs import CardScheme
from clearing.storage.models import (
    CardDebitRow,
    CardRow,
    CardSchemeRow,
    DenyListChangeRow,
    IssuerCredentialKeyRow,
    MediumRow,
    RideCodeUseRow,
)
from farebridge.codecs import public_key_from_bytes
from farebridge.codecs.cards import CardDebit
from farebridge.codecs.ridecode import CredentialId, DenyList, TrustList, VerifiedRide


class CardKeys:
    """Scheme and UID of each card a batch's taps name."""

    def __init__(self, session: Session, tokens: Sequence[str]) -> None:
        self.uids: dict[str, bytes] = {}
        self.schemes: dict[str, CardScheme] = {}
        if not tokens:
            return
        rows = session.execute(
            select(CardRow.medium_token, CardRow.card_uid, MediumRow.issuer_id)
            .join(MediumRow, MediumRow.medium_token == CardRow.medium_token)
            .where(CardRow.medium_token.in_(tokens))
        )
        issuers: dict[str, str] = {}
        for token, uid, issuer in rows:
            self.uids[token], issuers[token] = bytes(uid), issuer
        schemes = {
            row.issuer_id: CardScheme(row.issuer_id, row.aid, row.system_identifier, row.master_key)
            for row in session.scalars(
                select(CardSchemeRow).where(CardSchemeRow.issuer_id.in_(set(issuers.values())))
            )
        }
        for token, issuer in issuers.items():
            if issuer in schemes:
                self.schemes[token] = schemes[issuer]


class RideCodeLists:
    """The trust list of issuers' credential keys, and the deny list as it
    stood at any instant (a tap is judged by the list in force when it was
    made, not by a block that came later)."""

    def __init__(self, session: Session) -> None:
        keys = session.execute(
            select(IssuerCredentialKeyRow.issuer_id, IssuerCredentialKeyRow.public_key)
        ).all()
        self.trust = TrustList(
            version=len(keys),
            issued_at=datetime.now().astimezone(),
            issuers={issuer: public_key_from_bytes(bytes(key)) for issuer, key in keys},
        )
        self._changes = list(
            session.scalars(select(DenyListChangeRow).order_by(DenyListChangeRow.version))
        )

    def deny_at(self, instant: datetime) -> DenyList:
        state: dict[str | CredentialId, bool] = {}
        for row in self._changes:
            if row.changed_at > instant:
                break
            target: str | CredentialId = (
                row.medium_token
                if row.medium_token is not None
                else CredentialId(row.issuer_id, int(row.serial or 0))
            )
            state[target] = row.action == "block"
        denied = [target for target, blocked in state.items() if blocked]
        return DenyList(
            version=0,
            rider_tokens=frozenset(t for t in denied if isinstance(t, str)),
            serials=frozenset(t for t in denied if isinstance(t, CredentialId)),
            issued_at=instant,
        )


def used_ride_codes(session: Session, rides: Sequence[VerifiedRide]) -> set[tuple[str, int, int]]:
    """Which of these (issuer, serial, counter) were already used in a tap."""
    keys = sorted({(r.issuer_id, r.serial, r.counter) for r in rides})
    if not keys:
        return set()
    query = select(RideCodeUseRow.issuer_id, RideCodeUseRow.serial, RideCodeUseRow.counter).where(
        tuple_(RideCodeUseRow.issuer_id, RideCodeUseRow.serial, RideCodeUseRow.counter).in_(keys)
    )
    return {
        (issuer, int(serial), int(counter)) for issuer, serial, counter in session.execute(query)
    }


def record_proofs(
    session: Session,
    debits: Sequence[tuple[str, str, CardDebit]],
    rides: Sequence[tuple[str, VerifiedRide]],
) -> None:
    """Stores verified debits ((tap id, device id, debit)) and claims ride
    codes ((tap id, ride)); the taps must be inserted first."""
    if debits:
        session.execute(
            insert(CardDebitRow),
            [
                {
                    "tap_id": tap_id, "card_id": d.card_id, "counter": d.counter,
                    "amount_minor": d.amount_minor, "balance_after_minor": d.balance_after_minor,
                    "device_id": device_id, "tapped_at": d.tapped_at, "mac": d.mac,
                }
                for tap_id, device_id, d in debits
            ],
        )  # fmt: skip
    if rides:
        session.execute(
            insert(RideCodeUseRow),
            [
                {
                    "tap_id": tap_id,
                    "issuer_id": r.issuer_id,
                    "serial": r.serial,
                    "counter": r.counter,
                }
                for tap_id, r in rides
            ],
        )
