"""C2SP checkpoints and signed notes.

Signed-note vectors: golang.org/x/mod sumdb/note/note_test.go (the Go
reference implementation of https://c2sp.org/signed-note): the PeterNeumann
signer and verifier keys, its exact signed note, the EnochRoot cosignature,
and the malformed notes and mangled keys it must refuse. The checkpoint body
is the example of https://c2sp.org/tlog-checkpoint.
"""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from farebridge.codecs.checkpoint import (
    Checkpoint,
    CheckpointError,
    InvalidKeyError,
    InvalidSignatureError,
    MalformedCheckpointError,
    MalformedNoteError,
    UnverifiedNoteError,
    format_checkpoint,
    key_id,
    open_checkpoint,
    open_signed_note,
    parse_checkpoint,
    sign_checkpoint,
    sign_note,
    verifier_key,
)

PETER_SIGNER = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PETER_KEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
ENOCH_KEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_SIG = (
    "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKv"
    "qfqdngotpRZb6KE6RyyBwJnAM=\n"
)
ENOCH_SIG = (
    "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwn"
    "WLox33WWd1RvMc+QQ=\n"
)

# The example body of https://c2sp.org/tlog-checkpoint.
SPEC_CHECKPOINT = (
    "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
)

SPEC_ROOT = SPEC_CHECKPOINT.split("\n")[2]

LOG = "farebridge.example/ledger"


@pytest.fixture
def peter() -> Ed25519PrivateKey:
    """The PeterNeumann key: its signer string encodes 0x01 || 32-byte seed."""
    encoded = base64.b64decode(PETER_SIGNER.split("+", 4)[4])
    assert encoded[0] == 1
    return Ed25519PrivateKey.from_private_bytes(encoded[1:])


@pytest.fixture
def log_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"farebridge log key").digest())


@pytest.fixture
def tree_head() -> Checkpoint:
    return Checkpoint(LOG, 8, hashlib.sha256(b"root").digest())


def test_verifier_key_and_key_id_match_the_go_reference(peter: Ed25519PrivateKey) -> None:
    assert verifier_key("PeterNeumann", peter.public_key()) == PETER_KEY
    assert key_id("PeterNeumann", peter.public_key()) == 0xC74F20A3


def test_signing_reproduces_the_go_reference_note(peter: Ed25519PrivateKey) -> None:
    assert sign_note(TEXT, "PeterNeumann", peter) == TEXT + "\n" + PETER_SIG


def test_the_reference_note_opens_to_its_text() -> None:
    assert open_signed_note(TEXT + "\n" + PETER_SIG, [PETER_KEY]) == TEXT


def test_signatures_by_unknown_keys_are_ignored() -> None:
    note = TEXT + "\n" + PETER_SIG + ENOCH_SIG
    assert open_signed_note(note, [PETER_KEY]) == TEXT
    assert open_signed_note(note, [ENOCH_KEY]) == TEXT
    assert open_signed_note(note, [PETER_KEY, ENOCH_KEY]) == TEXT


def test_a_note_without_a_trusted_signature_is_refused() -> None:
    note = TEXT + "\n" + PETER_SIG + ENOCH_SIG
    with pytest.raises(UnverifiedNoteError):
        open_signed_note(note, [])
    with pytest.raises(UnverifiedNoteError):
        open_signed_note(TEXT + "\n" + ENOCH_SIG, [PETER_KEY])


@pytest.mark.parametrize(
    "signature",
    [
        # Same key id under another name, and same name with another key id:
        # both are unknown keys, to be ignored rather than tried.
        PETER_SIG.replace("PeterNeumann", "CarmenSandiego"),
        PETER_SIG.replace("x08g", "xxxx"),
    ],
)
def test_sharing_only_a_name_or_only_an_id_with_a_trusted_key_is_unknown(signature: str) -> None:
    with pytest.raises(UnverifiedNoteError):
        open_signed_note(TEXT + "\n" + signature, [PETER_KEY])


def test_a_failing_signature_from_a_trusted_key_rejects_the_note() -> None:
    forged = PETER_SIG[:60] + "ABCD" + PETER_SIG[60:]
    with pytest.raises(InvalidSignatureError, match=r"PeterNeumann\+c74f20a3"):
        open_signed_note(TEXT + "\n" + forged, [PETER_KEY])
    # The signed-note spec: clients SHOULD reject the whole note, even when
    # another trusted key did sign it.
    with pytest.raises(InvalidSignatureError):
        open_signed_note(TEXT + "\n" + ENOCH_SIG + forged, [PETER_KEY, ENOCH_KEY])


def test_repeated_and_unknown_bad_signatures_do_not_matter() -> None:
    bad_enoch = ENOCH_SIG[:60] + "ABCD" + ENOCH_SIG[60:]
    note = TEXT + "\n" + PETER_SIG + PETER_SIG + ENOCH_SIG + ENOCH_SIG + bad_enoch
    assert open_signed_note(note, [PETER_KEY]) == TEXT


def test_an_altered_text_fails_its_signature() -> None:
    altered = TEXT.replace("answer", "Answer")
    with pytest.raises(InvalidSignatureError):
        open_signed_note(altered + "\n" + PETER_SIG, [PETER_KEY])


@pytest.mark.parametrize(
    "note",
    [
        TEXT,
        TEXT + "\n",
        TEXT + "\n" + PETER_SIG[:-1],
        "\x01" + TEXT + "\n" + PETER_SIG,
        # Go's "\xff" byte: not UTF-8, which a Python string holds as a lone surrogate.
        "\udcff" + TEXT + "\n" + PETER_SIG,
        TEXT + "\n" + "— Bad Name " + PETER_SIG.split(" ")[2],
        TEXT + "\n" + PETER_SIG + "Unexpected line.\n",
        TEXT + "\n" + PETER_SIG * 101,
        TEXT + "\n" + "— PeterNeumann AAAA\n",
    ],
)
def test_malformed_notes_are_refused(note: str) -> None:
    with pytest.raises(MalformedNoteError):
        open_signed_note(note, [PETER_KEY])


def test_every_mangling_of_a_verifier_key_is_refused() -> None:
    # note_test.go, TestNewVerifier: every proper substring, every byte + 1.
    manglings = {
        PETER_KEY[start:end]
        for start in range(len(PETER_KEY))
        for end in range(start + 1, len(PETER_KEY) + 1)
    }
    manglings.discard(PETER_KEY)
    for position, character in enumerate(PETER_KEY):
        manglings.add(PETER_KEY[:position] + chr(ord(character) + 1) + PETER_KEY[position + 1 :])
    # A 40-byte key, and an unknown algorithm, each with a key id that matches.
    manglings.add("PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==")
    manglings.add("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
    accepted = []
    for key in sorted(manglings):
        try:
            open_signed_note(TEXT + "\n" + PETER_SIG, [key])
        except InvalidKeyError:
            continue
        accepted.append(key)
    assert accepted == []


def test_two_different_keys_with_one_name_and_id_are_refused() -> None:
    # Two keys whose ids collide (found by a birthday search over seeds).
    first = "farebridge.example/collision+70df459a+AVRG72Ek2+vB6q5HvYoaaZcjUGFXkT8d+rZ7Sq+r/1bm"
    second = "farebridge.example/collision+70df459a+Acs0GsPUtb643gQBsqk+E+NxsabyOE0givmi86o7dLeh"
    with pytest.raises(InvalidKeyError, match="two different keys"):
        open_signed_note(TEXT + "\n" + PETER_SIG, [first, second])
    assert open_signed_note(TEXT + "\n" + PETER_SIG, [PETER_KEY, first, PETER_KEY]) == TEXT


@pytest.mark.parametrize(
    ("text", "name", "error"),
    [
        ("no final newline", "log", MalformedNoteError),
        ("", "log", MalformedNoteError),
        ("bell \x07\n", "log", MalformedNoteError),
        ("fine\n", "two words", InvalidKeyError),
        ("fine\n", "a+b", InvalidKeyError),
        ("fine\n", "", InvalidKeyError),
    ],
)
def test_sign_note_refuses_bad_text_and_names(
    text: str, name: str, error: type[CheckpointError], peter: Ed25519PrivateKey
) -> None:
    with pytest.raises(error):
        sign_note(text, name, peter)


def test_the_spec_example_checkpoint_round_trips() -> None:
    checkpoint = parse_checkpoint(SPEC_CHECKPOINT)
    assert checkpoint.origin == "example.com/behind-the-sofa"
    assert checkpoint.tree_size == 20852163
    assert checkpoint.root_hash == base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
    assert checkpoint.extensions == ()
    assert format_checkpoint(checkpoint) == SPEC_CHECKPOINT


def test_extension_lines_round_trip(tree_head: Checkpoint) -> None:
    extended = Checkpoint(tree_head.origin, 0, tree_head.root_hash, ("cycle 42", "x"))
    text = format_checkpoint(extended)
    assert text.endswith(
        "\n0\n" + base64.b64encode(tree_head.root_hash).decode() + "\ncycle 42\nx\n"
    )
    assert parse_checkpoint(text) == extended


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        (SPEC_CHECKPOINT[:-1], "newline"),
        ("example.com/log\n5\n", "at least 3 lines"),
        (SPEC_CHECKPOINT.replace("20852163", "020852163"), "line 2"),
        (SPEC_CHECKPOINT.replace("20852163", "-1"), "line 2"),
        (SPEC_CHECKPOINT.replace("20852163", "+5"), "line 2"),
        (SPEC_CHECKPOINT.replace("20852163", "٣"), "line 2"),
        (SPEC_CHECKPOINT.replace("q2I=", "q2J="), "line 3"),
        (SPEC_CHECKPOINT.replace("q2I=", "q2I"), "line 3"),
        (SPEC_CHECKPOINT.replace(SPEC_ROOT, base64.b64encode(bytes(31)).decode()), "31 bytes"),
        ("\n5\n" + SPEC_ROOT + "\n", "origin"),
        (SPEC_CHECKPOINT + "\nextension\n", "extension line 4"),
        ("log\x0b\n5\n" + SPEC_ROOT + "\n", "origin"),
    ],
)
def test_malformed_checkpoints_say_which_line(text: str, complaint: str) -> None:
    with pytest.raises(MalformedCheckpointError, match=complaint):
        parse_checkpoint(text)


def test_checkpoint_values_are_checked_when_made(tree_head: Checkpoint) -> None:
    with pytest.raises(MalformedCheckpointError, match="negative"):
        Checkpoint(LOG, -1, tree_head.root_hash)
    with pytest.raises(MalformedCheckpointError, match="31 bytes"):
        Checkpoint(LOG, 1, tree_head.root_hash[:31])
    with pytest.raises(MalformedCheckpointError, match="origin"):
        Checkpoint("two\nlines", 1, tree_head.root_hash)
    with pytest.raises(MalformedCheckpointError, match="extension"):
        Checkpoint(LOG, 1, tree_head.root_hash, ("",))


def test_a_signed_tree_head_opens_to_the_same_checkpoint(
    tree_head: Checkpoint, log_key: Ed25519PrivateKey
) -> None:
    note = sign_checkpoint(tree_head, LOG, log_key)
    assert note.startswith(format_checkpoint(tree_head) + "\n— " + LOG + " ")
    key = verifier_key(LOG, log_key.public_key())
    assert open_checkpoint(note, [key]) == tree_head
    assert open_checkpoint(note, [key], origin=LOG) == tree_head
    with pytest.raises(MalformedCheckpointError, match=r"not 'other\.example/log'"):
        open_checkpoint(note, [key], origin="other.example/log")


def test_a_witness_cosignature_does_not_disturb_the_log_signature(
    tree_head: Checkpoint, log_key: Ed25519PrivateKey, peter: Ed25519PrivateKey
) -> None:
    note = sign_checkpoint(tree_head, LOG, log_key)
    text = format_checkpoint(tree_head)
    witness_line = sign_note(text, "witness.example/w1", peter)[len(text) + 1 :]
    cosigned = note + witness_line
    assert open_checkpoint(cosigned, [verifier_key(LOG, log_key.public_key())]) == tree_head
    witness_key = verifier_key("witness.example/w1", peter.public_key())
    assert open_checkpoint(cosigned, [witness_key]) == tree_head


def test_a_checkpoint_signed_by_another_key_is_not_trusted(
    tree_head: Checkpoint, log_key: Ed25519PrivateKey, peter: Ed25519PrivateKey
) -> None:
    impostor = sign_checkpoint(tree_head, LOG, peter)
    with pytest.raises(UnverifiedNoteError):
        open_checkpoint(impostor, [verifier_key(LOG, log_key.public_key())])
