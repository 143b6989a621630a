"""Ride credentials and the trust list that lets readers believe them.

The clearing house signs credentials on each wallet provider's behalf with
one Ed25519 key per provider, made on the provider's first credential and
kept in ``issuer_credential_keys``. The trust list readers download names
every such key and is signed with the clearing house's own key, so a reader
needs to hold only that one.
"""

from __future__ import annotations

from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from clearing.errors import InvalidRequestError
from clearing.storage.models import IssuerCredentialKeyRow, RideCredentialRow
from clearing.values import ParticipantId
from clearing.wallets._accounts import owned_account
from clearing.wallets._values import RiderAccount, check_same, check_serial
from farebridge.codecs import (
    generate_device_key,
    load_private_key_pem,
    private_key_pem,
    public_key_bytes,
    public_key_from_bytes,
)
from farebridge.codecs.ridecode import (
    RideCodeArgumentError,
    RideCredential,
    credential_bytes,
    issue_credential,
    sign_trust_list,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SIGNATURE_SIZE = 64


def credential_key(session: Session, issuer_id: ParticipantId, now: datetime) -> Ed25519PrivateKey:
    """The provider's credential key, made and stored on first use. The new
    key raises the trust list's version by one (unique column: of two
    concurrent first uses, one commits and the other retries)."""
    row = session.get(IssuerCredentialKeyRow, issuer_id)
    if row is not None:
        return load_private_key_pem(row.private_key_pem.encode("ascii"))
    key = generate_device_key()
    latest = session.scalar(select(func.max(IssuerCredentialKeyRow.trust_list_version))) or 0
    session.add(
        IssuerCredentialKeyRow(
            issuer_id=issuer_id,
            private_key_pem=private_key_pem(key).decode("ascii"),
            public_key=public_key_bytes(key),
            trust_list_version=latest + 1,
            created_at=now,
        )
    )
    session.flush()
    return key


def _check_rider_key(raw: bytes) -> bytes:
    try:
        public_key_from_bytes(raw)
    except ValueError:
        raise InvalidRequestError(
            "rider_public_key must be a raw 32-byte Ed25519 public key", field="rider_public_key"
        ) from None
    return raw


def _rebuilt(row: RideCredentialRow, account: RiderAccount) -> RideCredential:
    return RideCredential(
        issuer_id=row.issuer_id,
        rider_token=account.medium_token,
        category=account.rider_category,
        expires_at=row.expires_at,
        serial=row.serial,
        rider_public_key=row.rider_public_key,
        issuer_signature=row.credential[-_SIGNATURE_SIZE:],
    )


def issue_ride_credential(
    session: Session,
    issuer_id: ParticipantId,
    account_id: str,
    rider_public_key: bytes,
    *,
    expires_at: datetime,
    serial: int,
    now: datetime,
) -> RideCredential:
    """Signs a credential binding the account's token and rider category to
    the phone's key, or answers the one issued before under ``serial``.
    ``expires_at`` is rounded down to the second, as the format carries it."""
    account = owned_account(session, issuer_id, account_id)
    check_serial(serial)
    _check_rider_key(rider_public_key)
    expiry = expires_at.astimezone(UTC).replace(microsecond=0)
    if expiry <= now:
        raise InvalidRequestError("expires_at must lie in the future", field="expires_at")
    stored = session.get(RideCredentialRow, (issuer_id, serial))
    if stored is not None:
        check_same(
            f"credential serial {serial}",
            account_id=(stored.account_id, account_id),
            rider_public_key=(stored.rider_public_key, rider_public_key),
            expires_at=(stored.expires_at, expiry),
        )
        return _rebuilt(stored, account)
    try:
        credential = issue_credential(
            credential_key(session, issuer_id, now),
            issuer_id,
            account.medium_token,
            rider_public_key,
            category=account.rider_category,
            expires_at=expiry,
            serial=serial,
        )
    except RideCodeArgumentError as error:
        raise InvalidRequestError(
            f"no ride credential can say this: {error}", field="request"
        ) from None
    session.add(
        RideCredentialRow(
            issuer_id=issuer_id,
            serial=serial,
            account_id=account_id,
            rider_public_key=rider_public_key,
            expires_at=credential.expires_at,
            credential=credential_bytes(credential),
            issued_at=now,
        )
    )
    session.flush()
    return credential


def signed_trust_list(session: Session, clearing_house_key: Ed25519PrivateKey) -> tuple[int, bytes]:
    """(version, signed blob) of every provider's credential key. The version
    and issue time are those of the newest key, so the same version always
    signs the same bytes."""
    rows = session.execute(
        select(
            IssuerCredentialKeyRow.issuer_id,
            IssuerCredentialKeyRow.public_key,
            IssuerCredentialKeyRow.trust_list_version,
            IssuerCredentialKeyRow.created_at,
        )
    ).all()
    version = max((row.trust_list_version for row in rows), default=0)
    issued_at = max((row.created_at for row in rows), default=_EPOCH)
    entries = {row.issuer_id: row.public_key for row in rows}
    return version, sign_trust_list(clearing_house_key, entries, version, issued_at)
