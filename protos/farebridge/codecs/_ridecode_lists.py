"""The two lists a reader needs to judge ride codes offline, both signed by
the clearing house so that a reader has to hold only the clearing house's key.

``TrustList``: which wallet providers may issue credentials, and their keys.
``DenyList``: rider tokens and credentials that may no longer ride.
Both carry a version that only goes up, so a reader can refuse to go back to
an older list that someone replays to it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, NamedTuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from farebridge.codecs._keys import public_key_bytes
from farebridge.codecs._ridecode_errors import RideCodeArgumentError, SignedListError
from farebridge.codecs._ridecode_fields import (
    UINT32_MAX,
    UINT64_MAX,
    Cursor,
    LayoutError,
    check_aware,
    check_identifier,
    check_uint,
    short_field,
)
from farebridge.codecs._ridecode_wire import (
    MAX_ISSUER_ID,
    MAX_RIDER_TOKEN,
    PUBLIC_KEY_SIZE,
    SIGNATURE_SIZE,
)

if TYPE_CHECKING:
    from _typeshed import SupportsRichComparisonT

TRUST_LIST_DOMAIN = b"farebridge.v1.TrustList\x00"
DENY_LIST_DOMAIN = b"farebridge.v1.DenyList\x00"
LIST_FORMAT_VERSION = 1
# A trust list names wallet providers, of which a region has dozens, not thousands.
_MAX_ISSUERS = 2**16 - 1


class CredentialId(NamedTuple):
    """A credential's identity: serials are unique per issuer, not globally."""

    issuer_id: str
    serial: int


@dataclass(frozen=True, slots=True)
class TrustList:
    """The issuers whose credentials readers accept, as the clearing house said.

    Attributes:
        version: increases with every list the clearing house publishes.
        issued_at: when it was published (UTC, whole seconds).
        issuers: issuer id to that issuer's Ed25519 public key (read-only).
    """

    version: int
    issued_at: datetime
    issuers: Mapping[str, Ed25519PublicKey]

    def __post_init__(self) -> None:
        object.__setattr__(self, "issuers", MappingProxyType(dict(self.issuers)))


@dataclass(frozen=True, slots=True)
class DenyList:
    """What may no longer ride, whatever its credential says.

    Attributes:
        version: increases with every list the clearing house publishes.
        rider_tokens: riders blocked on every credential they hold.
        serials: single credentials blocked (a lost phone), by ``CredentialId``.
        issued_at: when it was published (UTC, whole seconds).
    """

    version: int
    rider_tokens: frozenset[str] = frozenset()
    serials: frozenset[CredentialId] = frozenset()
    issued_at: datetime = field(default=datetime(1970, 1, 1, tzinfo=UTC))

    def denies(self, rider_token: str, credential: CredentialId) -> bool:
        return rider_token in self.rider_tokens or credential in self.serials


def sign_trust_list(
    clearing_house_key: Ed25519PrivateKey,
    entries: Mapping[str, Ed25519PublicKey | bytes],
    version: int,
    issued_at: datetime,
) -> bytes:
    """The signed blob readers download; ``open_trust_list`` reads it."""
    if len(entries) > _MAX_ISSUERS:
        raise RideCodeArgumentError(f"a trust list holds at most {_MAX_ISSUERS} issuers")
    rows = sorted(
        (check_identifier("issuer id", issuer, MAX_ISSUER_ID), _raw_key(key))
        for issuer, key in entries.items()
    )
    body = _list_header(version, issued_at) + len(rows).to_bytes(2, "big")
    body += b"".join(short_field(issuer) + key for issuer, key in rows)
    return _sign(clearing_house_key, TRUST_LIST_DOMAIN, body)


def open_trust_list(blob: bytes, clearing_house_public_key: Ed25519PublicKey) -> TrustList:
    """Verifies the clearing house's signature, then parses. Raises SignedListError."""
    cursor = _open(blob, clearing_house_public_key, TRUST_LIST_DOMAIN)
    try:
        version, issued_at = _read_header(cursor)
        issuers = [
            (cursor.identifier(MAX_ISSUER_ID), cursor.take(PUBLIC_KEY_SIZE))
            for _ in range(cursor.uint(2))
        ]
        cursor.finish()
    except LayoutError as exc:
        raise SignedListError(f"the trust list does not parse: {exc}") from None
    _check_strictly_sorted("trust list issuers", [issuer for issuer, _ in issuers])
    try:
        keys = {issuer: Ed25519PublicKey.from_public_bytes(raw) for issuer, raw in issuers}
    except ValueError as exc:
        raise SignedListError(f"the trust list holds an unusable key: {exc}") from None
    return TrustList(version, issued_at, keys)


def sign_deny_list(clearing_house_key: Ed25519PrivateKey, deny_list: DenyList) -> bytes:
    """The signed blob readers download; ``open_deny_list`` reads it."""
    tokens = sorted(
        check_identifier("rider token", token, MAX_RIDER_TOKEN) for token in deny_list.rider_tokens
    )
    serials = sorted(
        (check_identifier("issuer id", issuer, MAX_ISSUER_ID), check_uint("serial", n, UINT64_MAX))
        for issuer, n in deny_list.serials
    )
    body = _list_header(deny_list.version, deny_list.issued_at)
    body += _counted(short_field(token) for token in tokens)
    body += _counted(short_field(issuer) + serial.to_bytes(8, "big") for issuer, serial in serials)
    return _sign(clearing_house_key, DENY_LIST_DOMAIN, body)


def open_deny_list(blob: bytes, clearing_house_public_key: Ed25519PublicKey) -> DenyList:
    """Verifies the clearing house's signature, then parses. Raises SignedListError."""
    cursor = _open(blob, clearing_house_public_key, DENY_LIST_DOMAIN)
    try:
        version, issued_at = _read_header(cursor)
        tokens = [cursor.identifier(MAX_RIDER_TOKEN) for _ in range(cursor.uint(4))]
        serials = [
            CredentialId(cursor.identifier(MAX_ISSUER_ID), cursor.uint(8))
            for _ in range(cursor.uint(4))
        ]
        cursor.finish()
    except LayoutError as exc:
        raise SignedListError(f"the deny list does not parse: {exc}") from None
    _check_strictly_sorted("deny list rider tokens", tokens)
    _check_strictly_sorted("deny list serials", serials)
    return DenyList(version, frozenset(tokens), frozenset(serials), issued_at)


def _list_header(version: int, issued_at: datetime) -> bytes:
    seconds = int(check_aware("issued_at", issued_at).timestamp())
    return (
        bytes([LIST_FORMAT_VERSION])
        + check_uint("version", version, UINT64_MAX).to_bytes(8, "big")
        + check_uint("issued_at (unix seconds)", seconds, UINT64_MAX).to_bytes(8, "big")
    )


def _read_header(cursor: Cursor) -> tuple[int, datetime]:
    if cursor.uint(1) != LIST_FORMAT_VERSION:
        raise LayoutError("unsupported list format version")
    version = cursor.uint(8)
    try:
        return version, datetime.fromtimestamp(cursor.uint(8), UTC)
    except (OverflowError, ValueError, OSError) as exc:
        raise LayoutError(f"issued_at is out of range: {exc}") from None


def _counted(items: Iterable[bytes]) -> bytes:
    chunks = list(items)
    return check_uint("list length", len(chunks), UINT32_MAX).to_bytes(4, "big") + b"".join(chunks)


def _sign(key: Ed25519PrivateKey, domain: bytes, body: bytes) -> bytes:
    return body + key.sign(domain + body)


def _open(blob: bytes, key: Ed25519PublicKey, domain: bytes) -> Cursor:
    """Checks the signature before a single field is read."""
    if len(blob) < SIGNATURE_SIZE:
        raise SignedListError(f"a signed list has at least 64 bytes, not {len(blob)}")
    body, signature = blob[:-SIGNATURE_SIZE], blob[-SIGNATURE_SIZE:]
    try:
        key.verify(signature, domain + body)
    except InvalidSignature:
        raise SignedListError("the list is not signed by this clearing house key") from None
    return Cursor(body)


def _check_strictly_sorted(what: str, items: list[SupportsRichComparisonT]) -> None:
    """One list, one encoding: entries sorted and unique, as the signer wrote them."""
    if items != sorted(set(items)):
        raise SignedListError(f"{what} are not sorted and unique")


def _raw_key(key: Ed25519PublicKey | bytes) -> bytes:
    if isinstance(key, bytes):
        if len(key) != PUBLIC_KEY_SIZE:
            raise RideCodeArgumentError(f"an issuer key must have 32 bytes, not {len(key)}")
        return key
    return public_key_bytes(key)
