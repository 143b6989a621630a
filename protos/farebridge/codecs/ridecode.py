"""QR ride codes: offline-verifiable proof that a rider may pass the gate.

A wallet provider (the issuer) signs a ``RideCredential`` binding a rider's
token and category to the Ed25519 key on the rider's phone. The phone, offline,
makes a fresh code for every scan: the credential, the time and a rising
counter, signed with its key (``generate_code``). A reader, also offline,
checks the code against the clearing house's signed trust list and deny list,
its clock and its memory of admitted codes (``verify_code``), and learns whom
to charge (``VerifiedRide``). The clearing house repeats the same pure checks
(``check_code``, ``is_replay``, ``advance``) over what the readers report.

The specification, byte by byte, is docs/ride-codes.md; the test vectors are
``ridecode_vectors.json`` beside this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from farebridge.codecs._ridecode_base45 import Base45Error, b45decode, b45encode
from farebridge.codecs._ridecode_errors import (
    RejectReason,
    ReplayedCodeError,
    RevokedCredentialError,
    RideCodeArgumentError,
    RideCodeError,
    RideCodeRejectedError,
    SignedListError,
    UnreadableCodeError,
    UntimelyCodeError,
    UntrustedCodeError,
    rejection,
)
from farebridge.codecs._ridecode_fields import check_aware
from farebridge.codecs._ridecode_lists import (
    DENY_LIST_DOMAIN,
    TRUST_LIST_DOMAIN,
    CredentialId,
    DenyList,
    TrustList,
    open_deny_list,
    open_trust_list,
    sign_deny_list,
    sign_trust_list,
)
from farebridge.codecs._ridecode_replay import (
    ReplayGuard,
    ReplayMark,
    advance,
    is_replay,
)
from farebridge.codecs._ridecode_wire import (
    CODE_DOMAIN,
    CREDENTIAL_DOMAIN,
    FORMAT_VERSION,
    TEXT_PREFIX,
    ParsedCode,
    RideCode,
    RideCredential,
    credential_bytes,
    decode_code,
    encode_code,
    generate_code,
    issue_credential,
    parse_code,
)

DEFAULT_FRESHNESS = timedelta(seconds=60)
"""How old a code may be: long enough for a slow scan after the app drew it,
short enough that a shared screenshot is useless by the time it arrives."""

DEFAULT_FUTURE_SKEW = timedelta(seconds=30)
"""How far ahead of the reader's clock a phone's clock may run."""

__all__ = [
    "CODE_DOMAIN",
    "CREDENTIAL_DOMAIN",
    "DEFAULT_FRESHNESS",
    "DEFAULT_FUTURE_SKEW",
    "DENY_LIST_DOMAIN",
    "FORMAT_VERSION",
    "TEXT_PREFIX",
    "TRUST_LIST_DOMAIN",
    "Base45Error",
    "CredentialId",
    "DenyList",
    "RejectReason",
    "ReplayGuard",
    "ReplayMark",
    "ReplayedCodeError",
    "RevokedCredentialError",
    "RideCode",
    "RideCodeArgumentError",
    "RideCodeError",
    "RideCodeRejectedError",
    "RideCredential",
    "SignedListError",
    "TrustList",
    "UnreadableCodeError",
    "UntimelyCodeError",
    "UntrustedCodeError",
    "VerifiedRide",
    "advance",
    "b45decode",
    "b45encode",
    "check_code",
    "credential_bytes",
    "decode_code",
    "encode_code",
    "generate_code",
    "is_replay",
    "issue_credential",
    "open_deny_list",
    "open_trust_list",
    "sign_deny_list",
    "sign_trust_list",
    "verify_code",
]


@dataclass(frozen=True, slots=True)
class VerifiedRide:
    """What a verified code proves: whom to charge, at which category, when.

    Attributes:
        rider_token: the media token the ride is charged to.
        issuer_id: the wallet provider that vouched for the rider.
        category: the rider category to price the ride at.
        timestamp: when the phone made the code (UTC, whole milliseconds).
        counter: the code's counter, for the clearing house's replay check.
        serial: the credential's serial (unique per issuer).
        expires_at: when the credential stops being accepted.
    """

    rider_token: str
    issuer_id: str
    category: str
    timestamp: datetime
    counter: int
    serial: int
    expires_at: datetime

    @property
    def credential_id(self) -> CredentialId:
        return CredentialId(self.issuer_id, self.serial)


def check_code(
    text: str,
    trust_list: TrustList,
    deny_list: DenyList,
    now: datetime,
    *,
    freshness: timedelta = DEFAULT_FRESHNESS,
    future_skew: timedelta = DEFAULT_FUTURE_SKEW,
) -> VerifiedRide:
    """Every check of ``verify_code`` except replays, as a pure function.

    The clearing house calls this with ``now`` set to when the reader scanned
    the code. Raises a ``RideCodeRejectedError`` subclass whose ``reason`` is the
    first failed check, in the order of ``RejectReason``.
    """
    now = check_aware("now", now)
    _check_windows(freshness, future_skew)
    parsed = parse_code(text)
    _check_signatures(parsed, trust_list)
    ride = _ride(parsed.code.credential, parsed.code)
    _check_standing(ride, deny_list, now)
    _check_time(ride.timestamp, now, freshness, future_skew)
    return ride


def verify_code(
    text: str,
    trust_list: TrustList,
    deny_list: DenyList,
    now: datetime,
    replay_guard: ReplayGuard,
    *,
    freshness: timedelta = DEFAULT_FRESHNESS,
    future_skew: timedelta = DEFAULT_FUTURE_SKEW,
) -> VerifiedRide:
    """Admits a scanned code at a reader, offline, or raises a
    ``RideCodeRejectedError`` subclass whose ``reason`` says why not.

    An admitted code is remembered by ``replay_guard``, so showing it (or any
    older code of the same credential) again within ``freshness`` is REPLAYED.
    A refused code leaves ``replay_guard`` as it was.
    """
    ride = check_code(
        text, trust_list, deny_list, now, freshness=freshness, future_skew=future_skew
    )
    if replay_guard.is_replay(ride.credential_id, ride.counter, now):
        raise rejection(
            RejectReason.REPLAYED,
            f"counter {ride.counter} of credential {ride.issuer_id}/{ride.serial} "
            "does not rise above one already admitted",
        )
    replay_guard.record(ride.credential_id, ride.counter, ride.timestamp, now, freshness)
    return ride


def _check_windows(freshness: timedelta, future_skew: timedelta) -> None:
    if freshness <= timedelta(0):
        raise RideCodeArgumentError("freshness must be positive")
    if future_skew < timedelta(0):
        raise RideCodeArgumentError("future_skew must not be negative")


def _check_signatures(parsed: ParsedCode, trust_list: TrustList) -> None:
    credential = parsed.code.credential
    issuer_key = trust_list.issuers.get(credential.issuer_id)
    if issuer_key is None:
        raise rejection(
            RejectReason.UNKNOWN_ISSUER,
            f"issuer {credential.issuer_id!r} is not on trust list version {trust_list.version}",
        )
    if not _signature_holds(
        issuer_key, credential.issuer_signature, CREDENTIAL_DOMAIN + parsed.credential_body
    ):
        raise rejection(RejectReason.BAD_ISSUER_SIGNATURE, "the issuer did not sign it")
    if not _rider_signature_holds(parsed):
        raise rejection(RejectReason.BAD_RIDER_SIGNATURE, "the credential's key did not sign it")


def _rider_signature_holds(parsed: ParsedCode) -> bool:
    try:
        rider_key = Ed25519PublicKey.from_public_bytes(parsed.code.credential.rider_public_key)
    except ValueError:
        return False
    signed = CODE_DOMAIN + parsed.credential_bytes + parsed.fields
    return _signature_holds(rider_key, parsed.code.rider_signature, signed)


def _signature_holds(key: Ed25519PublicKey, signature: bytes, message: bytes) -> bool:
    try:
        key.verify(signature, message)
    except InvalidSignature:
        return False
    return True


def _ride(credential: RideCredential, code: RideCode) -> VerifiedRide:
    return VerifiedRide(
        rider_token=credential.rider_token,
        issuer_id=credential.issuer_id,
        category=credential.category,
        timestamp=code.timestamp,
        counter=code.counter,
        serial=credential.serial,
        expires_at=credential.expires_at,
    )


def _check_standing(ride: VerifiedRide, deny_list: DenyList, now: datetime) -> None:
    """A credential in good standing: not denied, and valid both when the code
    was made and now (so neither clock alone can stretch its life)."""
    if deny_list.denies(ride.rider_token, ride.credential_id):
        raise rejection(
            RejectReason.DENIED,
            f"rider or credential {ride.issuer_id}/{ride.serial} is on deny list "
            f"version {deny_list.version}",
        )
    if max(now, ride.timestamp) >= ride.expires_at:
        raise rejection(
            RejectReason.EXPIRED_CREDENTIAL, f"the credential expired at {ride.expires_at}"
        )


def _check_time(
    timestamp: datetime, now: datetime, freshness: timedelta, future_skew: timedelta
) -> None:
    """Both bounds are inclusive: a code exactly ``freshness`` old still passes."""
    if timestamp - now > future_skew:
        raise rejection(
            RejectReason.FUTURE_DATED, f"made {timestamp - now} ahead of the reader's clock"
        )
    if now - timestamp > freshness:
        raise rejection(RejectReason.STALE, f"made {now - timestamp} ago")
