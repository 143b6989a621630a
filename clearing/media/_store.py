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
from farebridge.codecs.ridecode import (
    CredentialId,
    DenyList,
    RideCodeError,
    TrustList,
    VerifiedRide,
    decode_code,
)


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
    made, not by a block that came later).

    Only the deny list's changes that concern ``codes`` (their riders'
    tokens and their credentials) are read, so the cost follows the batch,
    not the list's history; ``deny_at`` answers correctly for those codes
    alone. A code that does not even parse concerns nothing: verifying it
    refuses it before the deny list is consulted.
    """

    def __init__(self, session: Session, codes: Sequence[str]) -> None:
        keys = session.execute(
            select(IssuerCredentialKeyRow.issuer_id, IssuerCredentialKeyRow.public_key)
        ).all()
        self.trust = TrustList(
            version=len(keys),
            issued_at=datetime.now().astimezone(),
            issuers={issuer: public_key_from_bytes(bytes(key)) for issuer, key in keys},
        )
        tokens, credentials = _deny_targets(codes)
        self._changes = _deny_changes(session, tokens, credentials)

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


def _deny_targets(codes: Sequence[str]) -> tuple[set[str], set[CredentialId]]:
    tokens: set[str] = set()
    credentials: set[CredentialId] = set()
    for text in codes:
        try:
            credential = decode_code(text).credential
        except RideCodeError:
            continue
        tokens.add(credential.rider_token)
        credentials.add(CredentialId(credential.issuer_id, credential.serial))
    return tokens, credentials


def _deny_changes(
    session: Session, tokens: set[str], credentials: set[CredentialId]
) -> list[DenyListChangeRow]:
    """The changes to these tokens and credentials, in version order."""
    rows: dict[int, DenyListChangeRow] = {}
    if tokens:
        by_token = select(DenyListChangeRow).where(DenyListChangeRow.medium_token.in_(tokens))
        rows.update((row.version, row) for row in session.scalars(by_token))
    if credentials:
        by_credential = select(DenyListChangeRow).where(
            tuple_(DenyListChangeRow.issuer_id, DenyListChangeRow.serial).in_(
                sorted((c.issuer_id, c.serial) for c in credentials)
            )
        )
        rows.update((row.version, row) for row in session.scalars(by_credential))
    return [rows[version] for version in sorted(rows)]


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
