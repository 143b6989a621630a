"""Signed tree heads as C2SP checkpoints in C2SP signed notes, with Ed25519.

A checkpoint (https://c2sp.org/tlog-checkpoint) is the three-line text
``<origin>\\n<tree size>\\n<base64 root hash>\\n``, optionally followed by
extension lines. The clearing house signs it as a signed note
(https://c2sp.org/signed-note): the text, a blank line, then one line per
signature, ``— <key name> <base64(4-byte key id || signature)>``.

These are the formats Go's ``golang.org/x/mod/sumdb/note`` and the
transparency-dev witnesses read, so an auditor can check farebridge's tree
heads with tools that know nothing of farebridge. A verifier is configured
with key strings ``<name>+<hex key id>+<base64(0x01 || public key)>``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from farebridge.codecs._keys import public_key_bytes
from farebridge.codecs.merkle import HASH_SIZE

ED25519_SIGNATURE_TYPE = b"\x01"
"""The signed-note signature type byte for Ed25519."""

SIGNATURE_PREFIX = "\u2014 "
"""An em dash and a space start every signature line."""

MAX_SIGNATURES = 100
"""Signature lines read before a note is refused as malformed; the spec asks
verifiers to accept at least 16, and Go's reference verifier stops at 100."""

_SIZE_LINE = re.compile(r"0|[1-9][0-9]*", re.ASCII)
_KEY_ID_HEX = re.compile(r"[0-9a-fA-F]{8}", re.ASCII)


class CheckpointError(ValueError):
    """Root of the errors in reading, writing and verifying checkpoints and
    signed notes. Nothing in a note may be trusted after one of these."""


class MalformedCheckpointError(CheckpointError):
    """The text is not a checkpoint: it needs an origin line, a decimal tree size
    without leading zeros, a base64 SHA-256 root hash, and only non-empty
    extension lines, each ending in a newline. The message names the line."""


class MalformedNoteError(CheckpointError):
    """The text is not a signed note: it needs text ending in a newline, a blank
    line, then signature lines ``— <name> <base64>``, and no control characters
    other than newlines. Check that nothing re-wrapped or re-encoded the note."""


class InvalidKeyError(CheckpointError):
    """A verifier key string or key name is unusable. Key strings look like
    ``<name>+<8 hex digits>+<base64>``, exactly as the log operator published them;
    key names are non-empty with no spaces and no ``+``."""


class UnverifiedNoteError(CheckpointError):
    """No signature on the note is from a key you trust. Check that you
    configured the log's published verifier key, and that the note came from
    that log."""


class InvalidSignatureError(CheckpointError):
    """A signature claims to be from a trusted key but does not verify: the note
    was altered after signing, or was not signed by that key. Reject the note."""


@dataclass(frozen=True)
class Checkpoint:
    """A log's tree head, as the text a checkpoint note signs.

    ``origin``
        Names the log; non-empty, one line. Should equal the signing key's name.
    ``tree_size``
        Number of leaves in the tree, at least 0.
    ``root_hash``
        The RFC 9162 root hash (32 bytes) of the tree of that size.
    ``extensions``
        Opaque extra lines, each non-empty; the spec discourages them because
        monitors cannot audit them.
    """

    origin: str
    tree_size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_line("origin", self.origin)
        if self.tree_size < 0:
            raise MalformedCheckpointError(f"the tree size {self.tree_size} is negative")
        if len(self.root_hash) != HASH_SIZE:
            raise MalformedCheckpointError(
                f"the root hash has {len(self.root_hash)} bytes; SHA-256 hashes have {HASH_SIZE}"
            )
        for number, line in enumerate(self.extensions, start=4):
            _check_line(f"extension line {number}", line)


def format_checkpoint(checkpoint: Checkpoint) -> str:
    """The checkpoint's note text, ready for ``sign_note``."""
    lines = [
        checkpoint.origin,
        str(checkpoint.tree_size),
        base64.b64encode(checkpoint.root_hash).decode("ascii"),
        *checkpoint.extensions,
    ]
    return "".join(f"{line}\n" for line in lines)


def parse_checkpoint(text: str) -> Checkpoint:
    """Reads a checkpoint's note text (the body, without signatures).

    Raises MalformedCheckpointError naming the offending line. Only the
    canonical encoding is accepted, so one tree head has exactly one text.
    """
    if not text.endswith("\n"):
        raise MalformedCheckpointError("a checkpoint must end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise MalformedCheckpointError(
            f"a checkpoint has at least 3 lines (origin, size, root hash), not {len(lines)}"
        )
    origin, size_line, root_line, *extensions = lines
    if not _SIZE_LINE.fullmatch(size_line):
        raise MalformedCheckpointError(
            f"line 2 must be the tree size in decimal without leading zeros, not {size_line!r}"
        )
    return Checkpoint(origin, int(size_line), _decode_root(root_line), tuple(extensions))


def key_id(name: str, public_key: Ed25519PublicKey) -> int:
    """The 32-bit key ID: the first four bytes, big-endian, of
    SHA-256(name || 0x0A || 0x01 || 32-byte public key)."""
    _check_key_name(name)
    return _key_id(name, ED25519_SIGNATURE_TYPE + public_key_bytes(public_key))


def verifier_key(name: str, public_key: Ed25519PublicKey) -> str:
    """The string a verifier is configured with,
    ``<name>+<hex key id>+<base64(0x01 || public key)>`` (Go's sumdb/note form).
    Publish it; it holds no secret."""
    encoded = base64.b64encode(ED25519_SIGNATURE_TYPE + public_key_bytes(public_key))
    return f"{name}+{key_id(name, public_key):08x}+{encoded.decode('ascii')}"


def sign_note(text: str, name: str, private_key: Ed25519PrivateKey) -> str:
    """The signed note: ``text``, a blank line, and one Ed25519 signature line by
    the key called ``name``. Ed25519 is deterministic, so signing the same text
    with the same key always gives the same note.

    Raises MalformedNoteError unless ``text`` is non-empty, ends in a newline
    and has no control characters other than newlines; InvalidKeyError for a
    bad name.
    """
    if not text.endswith("\n"):
        raise MalformedNoteError("the note text must end with a newline")
    _check_note_characters(text)
    identifier = key_id(name, private_key.public_key())
    signature = private_key.sign(text.encode("utf-8"))
    encoded = base64.b64encode(identifier.to_bytes(4, "big") + signature).decode("ascii")
    return f"{text}\n{SIGNATURE_PREFIX}{name} {encoded}\n"


def open_signed_note(note: str, verifier_keys: Sequence[str]) -> str:
    """Verifies a signed note and returns its text (without the signatures).

    Signatures by keys not in ``verifier_keys`` are ignored, as the spec
    requires, so witnesses may cosign. At least one trusted key must have
    signed; and, as the spec recommends, a signature that claims a trusted key
    but does not verify rejects the whole note. Raises InvalidKeyError,
    MalformedNoteError, InvalidSignatureError or UnverifiedNoteError.
    """
    trusted = _parse_verifier_keys(verifier_keys)
    text, signature_lines = _split_note(note)
    message = text.encode("utf-8")
    verified: set[tuple[str, int]] = set()
    for name, identifier, signature in _parse_signature_lines(signature_lines):
        key = trusted.get((name, identifier))
        if key is None or (name, identifier) in verified:
            continue
        try:
            key.verify(signature, message)
        except InvalidSignature as exc:
            raise InvalidSignatureError(
                f"the signature by {name}+{identifier:08x} does not verify"
            ) from exc
        verified.add((name, identifier))
    if not verified:
        raise UnverifiedNoteError("no signature on the note is from a trusted key")
    return text


def sign_checkpoint(checkpoint: Checkpoint, name: str, private_key: Ed25519PrivateKey) -> str:
    """``format_checkpoint`` then ``sign_note``: a tree head ready to publish."""
    return sign_note(format_checkpoint(checkpoint), name, private_key)


def open_checkpoint(
    note: str, verifier_keys: Sequence[str], *, origin: str | None = None
) -> Checkpoint:
    """``open_signed_note`` then ``parse_checkpoint``. With ``origin``, also
    insists the checkpoint names that log, so a tree head of another log signed
    by a shared key is not mistaken for this one's."""
    checkpoint = parse_checkpoint(open_signed_note(note, verifier_keys))
    if origin is not None and checkpoint.origin != origin:
        raise MalformedCheckpointError(
            f"the checkpoint is for log {checkpoint.origin!r}, not {origin!r}"
        )
    return checkpoint


def _key_id(name: str, encoded_key: bytes) -> int:
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + encoded_key).digest()
    return int.from_bytes(digest[:4], "big")


def _parse_verifier_keys(keys: Sequence[str]) -> dict[tuple[str, int], Ed25519PublicKey]:
    trusted: dict[tuple[str, int], Ed25519PublicKey] = {}
    raw_keys: dict[tuple[str, int], bytes] = {}
    for key in keys:
        name, identifier, raw = _parse_verifier_key(key)
        if raw_keys.setdefault((name, identifier), raw) != raw:
            raise InvalidKeyError(f"two different keys are both called {name}+{identifier:08x}")
        trusted[(name, identifier)] = Ed25519PublicKey.from_public_bytes(raw)
    return trusted


def _parse_verifier_key(key: str) -> tuple[str, int, bytes]:
    """Returns (name, key id, raw 32-byte public key) of a verifier key string."""
    name, _, rest = key.partition("+")
    id_hex, _, key_base64 = rest.partition("+")
    _check_key_name(name)
    if not _KEY_ID_HEX.fullmatch(id_hex):
        raise InvalidKeyError(f"the key id of {name!r} must be 8 hex digits, not {id_hex!r}")
    encoded = _strict_base64(key_base64)
    if encoded is None or not encoded:
        raise InvalidKeyError(f"the public key of {name!r} is not base64")
    identifier = int(id_hex, 16)
    if _key_id(name, encoded) != identifier:
        raise InvalidKeyError(f"the key id {id_hex} does not match the name and key of {name!r}")
    if encoded[:1] != ED25519_SIGNATURE_TYPE or len(encoded) != 33:
        raise InvalidKeyError(f"the key {name!r} is not a 32-byte Ed25519 key (type 0x01)")
    return name, identifier, encoded[1:]


def _split_note(note: str) -> tuple[str, list[str]]:
    """Splits at the last blank line into (text, signature lines)."""
    _check_note_characters(note)
    split = note.rfind("\n\n")
    if split < 0:
        raise MalformedNoteError("the note has no blank line before its signatures")
    text, signatures = note[: split + 1], note[split + 2 :]
    if not signatures.endswith("\n"):
        raise MalformedNoteError("the note must end with a signature line and a newline")
    lines = signatures[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise MalformedNoteError(f"the note has more than {MAX_SIGNATURES} signatures")
    return text, lines


def _parse_signature_lines(lines: Sequence[str]) -> list[tuple[str, int, bytes]]:
    """Every line as (key name, key id, signature); raises on any bad line, so
    that a note is either wholly well formed or refused."""
    parsed = []
    for number, line in enumerate(lines, start=1):
        if not line.startswith(SIGNATURE_PREFIX):
            raise MalformedNoteError(f"signature line {number} does not start with '— '")
        name, _, encoded = line[len(SIGNATURE_PREFIX) :].partition(" ")
        blob = _strict_base64(encoded)
        if blob is None or len(blob) < 5 or not _is_valid_key_name(name):
            raise MalformedNoteError(f"signature line {number} is not '— <name> <base64>'")
        parsed.append((name, int.from_bytes(blob[:4], "big"), blob[4:]))
    return parsed


def _strict_base64(text: str) -> bytes | None:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        return None


def _decode_root(line: str) -> bytes:
    root = _strict_base64(line)
    if root is None or base64.b64encode(root).decode("ascii") != line:
        raise MalformedCheckpointError(f"line 3 must be the root hash in base64, not {line!r}")
    return root


def _check_line(what: str, line: str) -> None:
    if not line:
        raise MalformedCheckpointError(f"the {what} must not be empty")
    if any(ord(character) < 0x20 for character in line):
        raise MalformedCheckpointError(f"the {what} must be one line without control characters")


def _check_note_characters(text: str) -> None:
    for character in text:
        code = ord(character)
        if code < 0x20 and character != "\n":
            raise MalformedNoteError(f"the note contains the control character U+{code:04X}")
        if 0xD800 <= code <= 0xDFFF:
            # A lone surrogate: how Python holds bytes that were not UTF-8.
            raise MalformedNoteError("the note is not valid UTF-8")


def _is_valid_key_name(name: str) -> bool:
    return bool(name) and "+" not in name and not any(c.isspace() for c in name)


def _check_key_name(name: str) -> None:
    if not _is_valid_key_name(name):
        raise InvalidKeyError(f"key names are non-empty without spaces or '+', not {name!r}")
