"""The ride code's bytes: the issuer's credential, the rider's code, their
signatures, and the ``FB1:`` text that the QR symbol carries.

docs/ride-codes.md gives the layout byte by byte. Encoding is canonical:
every field has one encoding, so a decoded code re-encodes to the very text
it came from, and each signature covers bytes the verifier can rebuild.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from farebridge.codecs._keys import public_key_bytes
from farebridge.codecs._ridecode_base45 import Base45Error, b45decode, b45encode
from farebridge.codecs._ridecode_errors import (
    RejectReason,
    RideCodeArgumentError,
    rejection,
)
from farebridge.codecs._ridecode_fields import (
    UINT32_MAX,
    UINT64_MAX,
    Cursor,
    LayoutError,
    check_aware,
    check_identifier,
    check_uint,
    from_unix_millis,
    short_field,
    unix_millis,
)

FORMAT_VERSION = 1
TEXT_PREFIX = "FB1:"
CREDENTIAL_DOMAIN = b"farebridge.v1.RideCredential\x00"
CODE_DOMAIN = b"farebridge.v1.RideCode\x00"
MAX_ISSUER_ID = 32
MAX_RIDER_TOKEN = 64
MAX_CATEGORY = 16
SIGNATURE_SIZE = 64
PUBLIC_KEY_SIZE = 32
# Seconds fit four bytes until 2106; every byte costs 1.5 characters in the QR.
_EXPIRY_WIDTH = 4
_SERIAL_WIDTH = 8
_TIMESTAMP_WIDTH = 8
_COUNTER_WIDTH = 4


@dataclass(frozen=True, slots=True)
class RideCredential:
    """What a wallet provider vouches for about one rider's phone.

    Attributes:
        issuer_id: the wallet provider, as named on the clearing house's trust list.
        rider_token: the rider's media token; fares are charged to it.
        category: the rider category that fare rules price (GTFS ``rider_category_id``).
        expires_at: codes are refused from this instant on (whole seconds, UTC).
        serial: the credential's number, unique per issuer; replay state and
            deny lists refer to ``(issuer_id, serial)``.
        rider_public_key: the raw Ed25519 key of the phone that signs codes.
        issuer_signature: the issuer's Ed25519 signature over ``credential_body``.
    """

    issuer_id: str
    rider_token: str
    category: str
    expires_at: datetime
    serial: int
    rider_public_key: bytes
    issuer_signature: bytes


@dataclass(frozen=True, slots=True)
class RideCode:
    """One scan's worth of proof: a credential and the rider's fresh signature.

    Attributes:
        credential: the issuer-signed credential, carried whole.
        timestamp: when the phone made the code (UTC, whole milliseconds).
        counter: the phone's per-credential counter; it only ever goes up.
        rider_signature: the rider's Ed25519 signature over ``code_signing_bytes``.
    """

    credential: RideCredential
    timestamp: datetime
    counter: int
    rider_signature: bytes


def credential_body(credential: RideCredential) -> bytes:
    """The credential's fields without the issuer's signature."""
    return b"".join(
        (
            short_field(credential.issuer_id.encode("ascii")),
            short_field(credential.rider_token.encode("ascii")),
            short_field(credential.category.encode("ascii")),
            int(credential.expires_at.timestamp()).to_bytes(_EXPIRY_WIDTH, "big"),
            credential.serial.to_bytes(_SERIAL_WIDTH, "big"),
            credential.rider_public_key,
        )
    )


def credential_bytes(credential: RideCredential) -> bytes:
    """The credential as it travels inside every code: body, then signature."""
    return credential_body(credential) + credential.issuer_signature


def credential_signing_bytes(body: bytes) -> bytes:
    return CREDENTIAL_DOMAIN + body


def code_fields(timestamp: datetime, counter: int) -> bytes:
    return unix_millis(timestamp).to_bytes(_TIMESTAMP_WIDTH, "big") + counter.to_bytes(
        _COUNTER_WIDTH, "big"
    )


def code_signing_bytes(credential: bytes, fields: bytes) -> bytes:
    """What the rider signs: the whole credential (so a rider's signature is
    bound to one issuer's statement) and the code's own fields."""
    return CODE_DOMAIN + credential + fields


def issue_credential(
    issuer_key: Ed25519PrivateKey,
    issuer_id: str,
    rider_token: str,
    rider_public_key: Ed25519PublicKey | bytes,
    *,
    category: str,
    expires_at: datetime,
    serial: int,
) -> RideCredential:
    """Signs a credential for the phone holding ``rider_public_key``.

    ``expires_at`` is rounded down to the second, so a credential never lasts
    longer than asked. Raises RideCodeArgumentError for values the format
    cannot carry.
    """
    check_identifier("issuer_id", issuer_id, MAX_ISSUER_ID)
    check_identifier("rider_token", rider_token, MAX_RIDER_TOKEN)
    check_identifier("category", category, MAX_CATEGORY)
    expiry_seconds = check_uint(
        "expires_at (unix seconds)",
        int(check_aware("expires_at", expires_at).timestamp()),
        UINT32_MAX,
    )
    unsigned = RideCredential(
        issuer_id=issuer_id,
        rider_token=rider_token,
        category=category,
        expires_at=datetime.fromtimestamp(expiry_seconds, UTC),
        serial=check_uint("serial", serial, UINT64_MAX),
        rider_public_key=_raw_public_key(rider_public_key),
        issuer_signature=b"",
    )
    signature = issuer_key.sign(credential_signing_bytes(credential_body(unsigned)))
    return _with_signature(unsigned, signature)


def generate_code(
    credential: RideCredential, rider_private_key: Ed25519PrivateKey, at: datetime, counter: int
) -> str:
    """The QR text of a fresh code made at ``at`` (rounded down to the
    millisecond) with ``counter``, which must exceed every counter this
    credential used before, or readers refuse the code as replayed."""
    if public_key_bytes(rider_private_key) != credential.rider_public_key:
        raise RideCodeArgumentError("rider_private_key is not the key the credential names")
    millis = check_uint("at (unix milliseconds)", unix_millis(check_aware("at", at)), UINT64_MAX)
    fields = code_fields(from_unix_millis(millis), check_uint("counter", counter, UINT32_MAX))
    signed_credential = credential_bytes(credential)
    signature = rider_private_key.sign(code_signing_bytes(signed_credential, fields))
    return _to_text(signed_credential + fields + signature)


def encode_code(code: RideCode) -> str:
    """The QR text of an already signed code; ``decode_code``'s inverse."""
    fields = code_fields(code.timestamp, code.counter)
    return _to_text(credential_bytes(code.credential) + fields + code.rider_signature)


@dataclass(frozen=True, slots=True)
class ParsedCode:
    """A decoded code with the exact byte strings its two signatures cover."""

    code: RideCode
    credential_body: bytes
    credential_bytes: bytes
    fields: bytes


def decode_code(text: str) -> RideCode:
    """The structure of a code, nothing verified: signatures, trust, time and
    replays are ``verify_code``'s business. Raises UnreadableCodeError
    (MALFORMED or UNSUPPORTED_VERSION)."""
    return parse_code(text).code


def parse_code(text: str) -> ParsedCode:
    payload = _from_text(text)
    if payload[:1] != bytes([FORMAT_VERSION]):
        raise rejection(RejectReason.UNSUPPORTED_VERSION, f"format version byte {payload[:1]!r}")
    try:
        return _parse_payload(payload)
    except (LayoutError, OverflowError) as exc:
        raise rejection(RejectReason.MALFORMED, f"the code's bytes do not parse: {exc}") from None


def _parse_payload(payload: bytes) -> ParsedCode:
    """Slices the signed byte strings out of ``payload`` itself, so signatures
    are checked over exactly the bytes that were scanned."""
    cursor = Cursor(payload, start=1)
    unsigned = _parse_credential(cursor)
    body_end = cursor.position
    credential = _with_signature(unsigned, cursor.take(SIGNATURE_SIZE))
    credential_end = cursor.position
    timestamp = from_unix_millis(cursor.uint(_TIMESTAMP_WIDTH))
    counter = cursor.uint(_COUNTER_WIDTH)
    fields_end = cursor.position
    rider_signature = cursor.take(SIGNATURE_SIZE)
    cursor.finish()
    return ParsedCode(
        code=RideCode(credential, timestamp, counter, rider_signature),
        credential_body=payload[1:body_end],
        credential_bytes=payload[1:credential_end],
        fields=payload[credential_end:fields_end],
    )


def _parse_credential(cursor: Cursor) -> RideCredential:
    return RideCredential(
        issuer_id=cursor.identifier(MAX_ISSUER_ID),
        rider_token=cursor.identifier(MAX_RIDER_TOKEN),
        category=cursor.identifier(MAX_CATEGORY),
        expires_at=datetime.fromtimestamp(cursor.uint(_EXPIRY_WIDTH), UTC),
        serial=cursor.uint(_SERIAL_WIDTH),
        rider_public_key=cursor.take(PUBLIC_KEY_SIZE),
        issuer_signature=b"",
    )


def _with_signature(credential: RideCredential, signature: bytes) -> RideCredential:
    return RideCredential(
        credential.issuer_id,
        credential.rider_token,
        credential.category,
        credential.expires_at,
        credential.serial,
        credential.rider_public_key,
        signature,
    )


def _raw_public_key(key: Ed25519PublicKey | bytes) -> bytes:
    if isinstance(key, bytes):
        if len(key) != PUBLIC_KEY_SIZE:
            raise RideCodeArgumentError(f"rider_public_key must have 32 bytes, not {len(key)}")
        return key
    return public_key_bytes(key)


def _to_text(payload_after_version: bytes) -> str:
    return TEXT_PREFIX + b45encode(bytes([FORMAT_VERSION]) + payload_after_version)


def _from_text(text: str) -> bytes:
    """The bytes behind the prefix. A prefix of another version, ``FB<n>:``,
    is UNSUPPORTED_VERSION; anything else that is not ours is MALFORMED."""
    if not text.startswith(TEXT_PREFIX):
        prefix, colon, _ = text.partition(":")
        if colon and prefix.startswith("FB") and prefix[2:].isdecimal():
            raise rejection(RejectReason.UNSUPPORTED_VERSION, f"text prefix {prefix}:")
        raise rejection(RejectReason.MALFORMED, f"the text does not start with {TEXT_PREFIX}")
    try:
        return b45decode(text[len(TEXT_PREFIX) :])
    except Base45Error as exc:
        raise rejection(RejectReason.MALFORMED, str(exc)) from None
