"""Proof documents: what an auditor downloads and checks offline.

A proof document is a JSON object holding one Merkle proof with everything
needed to check it, so that checking needs no connection to farebridge:
``verify_proof_document(parse_proof_document(json.load(file)))``. The format
is described, with worked examples, in ``docs.md`` beside this module.

Hashes are lowercase hex. Fields other than the ones of its kind (a signed
checkpoint, the ledger entry itself) are allowed and ignored by the proof
check: they are for the auditor to read and compare with the hashes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar, Final, Literal, TypeAlias

from farebridge.codecs.merkle import HASH_SIZE, verify_consistency, verify_inclusion

INCLUSION: Final = "inclusion"
CONSISTENCY: Final = "consistency"

_LOWER_HEX = re.compile(r"(?:[0-9a-f]{2})*", re.ASCII)


class ProofDocumentError(ValueError):
    """The proof document is not well formed: a field is missing, has the wrong
    type, is not lowercase hex of a 32-byte hash, or the sizes contradict each
    other. ``field`` names the field. Nothing was verified; ask for the document
    again, unaltered."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class InclusionProofDocument:
    """Claims that ``leaf_hash`` is leaf ``leaf_index`` of the tree of
    ``tree_size`` leaves whose root is ``root_hash``.

    ``leaf_hash``
        RFC 9162 leaf hash of the ledger entry, 32 bytes.
    ``leaf_index``
        Position of the entry in the log, from 0.
    ``tree_size``
        Number of leaves in the tree; greater than ``leaf_index``.
    ``root_hash``
        Root of that tree, as published in a signed checkpoint.
    ``proof``
        The audit path, leaf side first.
    """

    leaf_hash: bytes
    leaf_index: int
    tree_size: int
    root_hash: bytes
    proof: tuple[bytes, ...]
    kind: ClassVar[Literal["inclusion"]] = INCLUSION

    def __post_init__(self) -> None:
        _check_hash("leaf_hash", self.leaf_hash)
        _check_hash("root_hash", self.root_hash)
        _check_proof(self.proof)
        _check_size("leaf_index", self.leaf_index)
        _check_size("tree_size", self.tree_size)
        if self.leaf_index >= self.tree_size:
            raise ProofDocumentError(
                f"'leaf_index' {self.leaf_index} is not less than 'tree_size' {self.tree_size}",
                field="leaf_index",
            )

    def to_json(self) -> dict[str, object]:
        """The document as a JSON-ready dict, in the documented field order."""
        return {
            "kind": self.kind,
            "leaf_hash": self.leaf_hash.hex(),
            "leaf_index": self.leaf_index,
            "tree_size": self.tree_size,
            "root_hash": self.root_hash.hex(),
            "proof": [node.hex() for node in self.proof],
        }


@dataclass(frozen=True)
class ConsistencyProofDocument:
    """Claims that the tree of ``new_size`` leaves with root ``new_root`` only
    appended entries to the tree of ``old_size`` leaves with root ``old_root``.

    ``old_size``, ``new_size``
        Tree sizes, ``0 <= old_size <= new_size``.
    ``old_root``, ``new_root``
        Roots of those trees, as published in signed checkpoints.
    ``proof``
        The consistency proof of RFC 9162 §2.1.4.
    """

    old_size: int
    new_size: int
    old_root: bytes
    new_root: bytes
    proof: tuple[bytes, ...]
    kind: ClassVar[Literal["consistency"]] = CONSISTENCY

    def __post_init__(self) -> None:
        _check_hash("old_root", self.old_root)
        _check_hash("new_root", self.new_root)
        _check_proof(self.proof)
        _check_size("old_size", self.old_size)
        _check_size("new_size", self.new_size)
        if self.old_size > self.new_size:
            raise ProofDocumentError(
                f"'old_size' {self.old_size} is larger than 'new_size' {self.new_size}",
                field="old_size",
            )

    def to_json(self) -> dict[str, object]:
        """The document as a JSON-ready dict, in the documented field order."""
        return {
            "kind": self.kind,
            "old_size": self.old_size,
            "new_size": self.new_size,
            "old_root": self.old_root.hex(),
            "new_root": self.new_root.hex(),
            "proof": [node.hex() for node in self.proof],
        }


ProofDocument: TypeAlias = InclusionProofDocument | ConsistencyProofDocument


def parse_proof_document(data: Mapping[str, object]) -> ProofDocument:
    """Reads a decoded JSON proof document. Raises ProofDocumentError naming the
    first field that is missing or wrong; does not check the proof itself."""
    kind = _field(data, "kind")
    if kind == INCLUSION:
        return InclusionProofDocument(
            leaf_hash=_hash_field(data, "leaf_hash"),
            leaf_index=_size_field(data, "leaf_index"),
            tree_size=_size_field(data, "tree_size"),
            root_hash=_hash_field(data, "root_hash"),
            proof=_proof_field(data),
        )
    if kind == CONSISTENCY:
        return ConsistencyProofDocument(
            old_size=_size_field(data, "old_size"),
            new_size=_size_field(data, "new_size"),
            old_root=_hash_field(data, "old_root"),
            new_root=_hash_field(data, "new_root"),
            proof=_proof_field(data),
        )
    raise ProofDocumentError(
        f"unknown 'kind' {kind!r}; expected {INCLUSION!r} or {CONSISTENCY!r}", field="kind"
    )


def verify_proof_document(document: ProofDocument) -> None:
    """Checks the document's proof; returns only if it verifies, and raises
    ``farebridge.codecs.merkle.ProofError`` naming what failed otherwise."""
    if isinstance(document, InclusionProofDocument):
        verify_inclusion(
            document.leaf_hash,
            document.leaf_index,
            document.tree_size,
            document.proof,
            document.root_hash,
        )
    else:
        verify_consistency(
            document.old_size,
            document.new_size,
            document.old_root,
            document.new_root,
            document.proof,
        )


def inclusion_document(
    *,
    leaf_hash: bytes,
    leaf_index: int,
    tree_size: int,
    root_hash: bytes,
    proof: Sequence[bytes],
    extra: Mapping[str, object] | None = None,
) -> dict[str, object]:
    """An inclusion proof document as a JSON-ready dict. ``extra`` fields (a
    signed checkpoint, the entry) are added after the proof's own fields and may
    not replace them. Raises ProofDocumentError for malformed values."""
    document = InclusionProofDocument(leaf_hash, leaf_index, tree_size, root_hash, tuple(proof))
    return _with_extra(document.to_json(), extra)


def consistency_document(
    *,
    old_size: int,
    new_size: int,
    old_root: bytes,
    new_root: bytes,
    proof: Sequence[bytes],
    extra: Mapping[str, object] | None = None,
) -> dict[str, object]:
    """A consistency proof document as a JSON-ready dict; ``extra`` as for
    ``inclusion_document``. Raises ProofDocumentError for malformed values."""
    document = ConsistencyProofDocument(old_size, new_size, old_root, new_root, tuple(proof))
    return _with_extra(document.to_json(), extra)


def describe_proof(document: ProofDocument) -> str:
    """One line saying what a verified document proves, for people."""
    if isinstance(document, InclusionProofDocument):
        return (
            f"valid inclusion proof: leaf {document.leaf_index} "
            f"in tree of size {document.tree_size}"
        )
    return (
        f"valid consistency proof: tree of size {document.old_size} "
        f"is a prefix of tree of size {document.new_size}"
    )


def _with_extra(fields: dict[str, object], extra: Mapping[str, object] | None) -> dict[str, object]:
    clashes = sorted(set(fields) & set(extra or {}))
    if clashes:
        raise ProofDocumentError(
            f"extra fields may not replace the proof's own field {clashes[0]!r}", field=clashes[0]
        )
    return {**fields, **(extra or {})}


def _field(data: Mapping[str, object], name: str) -> object:
    if name not in data:
        raise ProofDocumentError(f"the proof document has no {name!r} field", field=name)
    return data[name]


def _size_field(data: Mapping[str, object], name: str) -> int:
    value = _field(data, name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProofDocumentError(f"{name!r} must be an integer, not {value!r}", field=name)
    return value


def _hash_field(data: Mapping[str, object], name: str) -> bytes:
    return _decode_hex(_field(data, name), name)


def _proof_field(data: Mapping[str, object]) -> tuple[bytes, ...]:
    value = _field(data, "proof")
    if not isinstance(value, list):
        raise ProofDocumentError(
            f"'proof' must be a list of hex hashes, not {value!r}", field="proof"
        )
    return tuple(_decode_hex(node, f"proof[{position}]") for position, node in enumerate(value))


def _decode_hex(value: object, name: str) -> bytes:
    if not isinstance(value, str) or not _LOWER_HEX.fullmatch(value):
        raise ProofDocumentError(f"{name!r} must be lowercase hex, not {value!r}", field=name)
    return bytes.fromhex(value)


def _check_hash(name: str, value: bytes) -> None:
    if len(value) != HASH_SIZE:
        raise ProofDocumentError(
            f"{name!r} has {len(value)} bytes; a SHA-256 hash has {HASH_SIZE}", field=name
        )


def _check_proof(proof: Sequence[bytes]) -> None:
    for position, node in enumerate(proof):
        _check_hash(f"proof[{position}]", node)


def _check_size(name: str, value: int) -> None:
    if value < 0:
        raise ProofDocumentError(f"{name!r} must not be negative, not {value}", field=name)
