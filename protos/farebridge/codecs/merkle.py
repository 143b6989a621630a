"""RFC 9162 (formerly RFC 6962) Merkle tree hashing and proofs over SHA-256.

The ledger is an append-only log. Its tree head commits to every entry in
order; an inclusion proof shows that one entry is in the tree, and a
consistency proof shows that a later tree only appended to an earlier one.
The clearing house, its auditors and anyone holding a signed tree head must
compute these identically, which is why they live in the shared codecs.

Leaves are hashed as ``SHA-256(0x00 || data)`` and interior nodes as
``SHA-256(0x01 || left || right)``. The different prefixes stop a leaf from
ever being passed off as an interior node (a second-preimage attack). The
root of the empty tree is ``SHA-256("")``.

Every function here takes *leaf hashes*, not entries: the log stores the
leaf hash of each entry once, and proofs are computed over those.

Generation from leaf hashes costs O(n) hashes per proof or root;
verification costs O(log n). A log that stores the roots of its perfect
subtrees generates proofs through ``inclusion_path`` and
``consistency_path``, reading O(log n) of them. ``MerkleFrontier`` keeps a
growing log's tree head up to date in O(log n) memory and O(1) amortised
hashes per appended entry.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial

HASH_SIZE = 32
"""Bytes in every hash this module produces or accepts (SHA-256)."""

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""The root hash of the tree with no leaves (RFC 9162 §2.1.1)."""


SubtreeRoot = Callable[[int, int], bytes]
"""``subtree_root(low, high)``: the root of leaves [low, high) of one tree.
Proofs are made of such roots: ``inclusion_proof`` and ``consistency_proof``
compute them from leaf hashes, a log with stored subtree roots reads them."""


class ProofError(ValueError):
    """A Merkle proof does not verify: the entry is not in the tree the root
    describes, the later tree does not extend the earlier one, or the proof,
    sizes or hashes were altered or mixed up. The message names the check that
    failed. Fetch the proof again for exactly these sizes and roots; if it still
    fails, treat the log as untrustworthy."""


def leaf_hash(data: bytes) -> bytes:
    """The hash of one log entry: ``SHA-256(0x00 || data)``."""
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The hash of an interior node: ``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def root_hash(leaf_hashes: Sequence[bytes]) -> bytes:
    """The Merkle Tree Hash (RFC 9162 §2.1.1) of a tree with these leaves.

    Hashes level by level, pairing neighbours and carrying an odd last node
    up unchanged, which yields exactly the RFC's left-balanced tree with n - 1
    node hashes. Fast enough for millions of leaves held in memory; for a
    stream that does not fit, use ``streaming_root_hash``.
    """
    _check_leaf_hashes(leaf_hashes)
    return _range_root(leaf_hashes, 0, len(leaf_hashes))


def streaming_root_hash(leaf_hashes: Iterable[bytes]) -> bytes:
    """The root over leaf hashes read once from any iterable (a database
    cursor, a file), holding only O(log n) hashes in memory."""
    return MerkleFrontier().extend(leaf_hashes).root()


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int) -> list[bytes]:
    """The audit path PATH(index, D[n]) of RFC 9162 §2.1.3.1, leaf side first.

    Raises ValueError unless ``0 <= index < len(leaf_hashes)``.
    """
    _check_leaf_hashes(leaf_hashes)
    return inclusion_path(index, len(leaf_hashes), partial(_range_root, leaf_hashes))


def inclusion_path(index: int, size: int, subtree_root: SubtreeRoot) -> list[bytes]:
    """PATH(index, D[size]), leaf side first, each hash one sibling subtree's
    root as ``subtree_root`` answers it.

    Raises ValueError unless ``0 <= index < size``.
    """
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is outside a tree of size {size}")
    path: list[bytes] = []
    low, high = 0, size
    while high - low > 1:
        split = low + _largest_power_of_two_below(high - low)
        if index < split:
            path.append(subtree_root(split, high))
            high = split
        else:
            path.append(subtree_root(low, split))
            low = split
    path.reverse()
    return path


def consistency_proof(leaf_hashes: Sequence[bytes], old_size: int) -> list[bytes]:
    """The proof PROOF(old_size, D[n]) of RFC 9162 §2.1.4.1 that the tree of
    the first ``old_size`` leaves is a prefix of the tree of all of them.

    Empty when ``old_size`` is 0 or ``len(leaf_hashes)``: every tree extends
    the empty tree, and every tree extends itself. Raises ValueError unless
    ``0 <= old_size <= len(leaf_hashes)``.
    """
    _check_leaf_hashes(leaf_hashes)
    return consistency_path(old_size, len(leaf_hashes), partial(_range_root, leaf_hashes))


def consistency_path(old_size: int, size: int, subtree_root: SubtreeRoot) -> list[bytes]:
    """PROOF(old_size, D[size]), each hash a subtree's root as
    ``subtree_root`` answers it.

    Raises ValueError unless ``0 <= old_size <= size``.
    """
    if not 0 <= old_size <= size:
        raise ValueError(f"old size {old_size} is outside 0..{size}")
    if old_size in (0, size):
        return []
    path: list[bytes] = []
    low, high, whole_old_tree = 0, size, True
    while old_size - low != high - low:
        split = low + _largest_power_of_two_below(high - low)
        if old_size <= split:
            path.append(subtree_root(split, high))
            high = split
        else:
            path.append(subtree_root(low, split))
            low, whole_old_tree = split, False
    if not whole_old_tree:
        # SUBPROOF(m, D[m], false): the verifier cannot compute this subtree
        # itself, because it is not the old root.
        path.append(subtree_root(low, high))
    path.reverse()
    return path


def perfect_subtrees(low: int, high: int) -> list[tuple[int, int]]:
    """Leaves [low, high) as perfect subtrees ``(level, index)``, each the
    2^level leaves from ``index << level``, largest first: how RFC 9162
    splits a prefix of a tree and every subtree a proof names.

    Raises ValueError for any other range, whose parts would not come
    largest first (their roots would not combine into the range's root).
    """
    if not 0 <= low <= high:
        raise ValueError(f"[{low}, {high}) is not a range of leaves")
    parts: list[tuple[int, int]] = []
    position = low
    while position < high:
        level = (high - position).bit_length() - 1
        if position & ((1 << level) - 1):
            raise ValueError(f"[{low}, {high}) is not a subtree or a prefix of a Merkle tree")
        parts.append((level, position >> level))
        position += 1 << level
    return parts


def combine_subtrees(roots: Sequence[bytes]) -> bytes:
    """The root over adjacent perfect subtrees given largest first (as
    ``perfect_subtrees`` lists them): each is the left sibling of all those
    after it. The empty tree's root for none."""
    if not roots:
        return EMPTY_ROOT
    node = roots[-1]
    for root in reversed(roots[:-1]):
        node = node_hash(root, node)
    return node


def verify_inclusion(
    leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Checks that ``leaf_hash`` is leaf number ``index`` of the tree of
    ``tree_size`` leaves whose root is ``root`` (RFC 9162 §2.1.3.2).

    Returns only if the proof verifies; raises ProofError naming what failed.
    """
    _check_hash("leaf hash", leaf_hash)
    _check_hash("root hash", root)
    _check_proof_hashes(proof)
    if tree_size < 0 or index < 0:
        raise ProofError(f"sizes must not be negative (index {index}, tree size {tree_size})")
    if index >= tree_size:
        raise ProofError(f"leaf index {index} is not inside a tree of size {tree_size}")
    expected = _inclusion_proof_length(index, tree_size)
    if len(proof) != expected:
        raise ProofError(
            f"an inclusion proof for leaf {index} in a tree of size {tree_size} has "
            f"{expected} hashes, not {len(proof)}"
        )
    if _root_from_inclusion_proof(leaf_hash, index, tree_size, proof) != root:
        raise ProofError(
            f"the inclusion proof for leaf {index} does not lead to the root of the tree "
            f"of size {tree_size}"
        )


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Checks that the tree of ``new_size`` leaves with root ``new_root`` only
    appended to the tree of ``old_size`` leaves with root ``old_root``
    (RFC 9162 §2.1.4.2).

    Equal sizes need an empty proof and equal roots. Every tree extends the
    empty tree, so ``old_size == 0`` needs an empty proof and ``old_root`` equal
    to the empty tree's root. Returns only if the proof verifies; raises
    ProofError naming what failed.
    """
    _check_hash("old root hash", old_root)
    _check_hash("new root hash", new_root)
    _check_proof_hashes(proof)
    _check_consistency_sizes(old_size, new_size, len(proof))
    if old_size == new_size:
        if old_root != new_root:
            raise ProofError(f"two different roots for the same tree size {old_size}")
        return
    if old_size == 0:
        if old_root != EMPTY_ROOT:
            raise ProofError("the old root is not the root of the empty tree")
        return
    old_computed, new_computed = _roots_from_consistency_proof(old_size, new_size, old_root, proof)
    if old_computed != old_root:
        raise ProofError(f"the consistency proof does not lead to the old root (size {old_size})")
    if new_computed != new_root:
        raise ProofError(f"the consistency proof does not lead to the new root (size {new_size})")


@dataclass(frozen=True)
class MerkleFrontier:
    """The right edge of a growing tree: enough to compute its root and to
    keep appending, in O(log n) memory (a "compact range" over [0, size)).

    Immutable: ``append`` and ``extend`` return a new frontier, so a tree head
    computed from one frontier can never change under the caller's feet.

    ``size``
        Number of leaves appended so far.
    ``peaks``
        Roots of the perfect subtrees that make up the tree, largest (leftmost)
        first; one per set bit of ``size``.
    """

    size: int = 0
    peaks: tuple[bytes, ...] = ()

    def __post_init__(self) -> None:
        if self.size < 0:
            raise ValueError(f"a frontier's size must not be negative, not {self.size}")
        if len(self.peaks) != self.size.bit_count():
            raise ValueError(
                f"a tree of size {self.size} has {self.size.bit_count()} peaks, "
                f"not {len(self.peaks)}"
            )
        for peak in self.peaks:
            _check_hash_value(peak, "peak")

    def append(self, leaf_hash: bytes) -> MerkleFrontier:
        """The frontier with one more leaf; O(log n) work."""
        return self.extend((leaf_hash,))

    def extend(self, leaf_hashes: Iterable[bytes]) -> MerkleFrontier:
        """The frontier with these leaves appended in order; each costs one
        leaf plus, amortised, one node hash."""
        peaks = list(self.peaks)
        size = self.size
        for leaf in leaf_hashes:
            _check_hash_value(leaf, "leaf hash")
            node, carry = leaf, size
            # Every trailing one bit of size is a perfect subtree of the same
            # height as ``node``: merge them, like carrying in binary addition.
            while carry & 1:
                node = node_hash(peaks.pop(), node)
                carry >>= 1
            peaks.append(node)
            size += 1
        return MerkleFrontier(size, tuple(peaks))

    def root(self) -> bytes:
        """The Merkle Tree Hash of all leaves appended so far."""
        return combine_subtrees(self.peaks)


def _largest_power_of_two_below(n: int) -> int:
    """k of RFC 9162 §2.1.1: the largest power of two strictly less than n >= 2."""
    return 1 << ((n - 1).bit_length() - 1)


def _range_root(leaf_hashes: Sequence[bytes], low: int, high: int) -> bytes:
    """The root of the subtree over leaves [low, high); callers pass a range
    that is a subtree of the RFC's tree (or the whole tree)."""
    if low == high:
        return EMPTY_ROOT
    level = list(leaf_hashes[low:high])
    sha256 = hashlib.sha256
    while len(level) > 1:
        # Not strict: an odd last node has no partner and is carried up below.
        pairs = zip(level[::2], level[1::2], strict=False)
        paired = [sha256(NODE_PREFIX + a + b).digest() for a, b in pairs]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def _inclusion_proof_length(index: int, tree_size: int) -> int:
    # Below the level where the paths to ``index`` and to the last leaf
    # part, every level contributes a sibling ("inner" nodes); above it,
    # only the levels where ``index`` is a right child do ("border" nodes).
    inner = (index ^ (tree_size - 1)).bit_length()
    return inner + (index >> inner).bit_count()


def _root_from_inclusion_proof(
    leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes]
) -> bytes:
    """Steps 2-4 of the RFC 9162 §2.1.3.2 verification algorithm."""
    fn, sn, result = index, tree_size - 1, leaf_hash
    for sibling in proof:
        if sn == 0:
            raise ProofError("the inclusion proof has more hashes than the tree has levels")
        if fn & 1 or fn == sn:
            result = node_hash(sibling, result)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            result = node_hash(result, sibling)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("the inclusion proof has fewer hashes than the tree has levels")
    return result


def _check_consistency_sizes(old_size: int, new_size: int, proof_length: int) -> None:
    if old_size < 0 or new_size < 0:
        raise ProofError(f"sizes must not be negative (old {old_size}, new {new_size})")
    if old_size > new_size:
        raise ProofError(f"the old size {old_size} is larger than the new size {new_size}")
    if old_size in (0, new_size):
        if proof_length:
            raise ProofError(
                f"a consistency proof from size {old_size} to {new_size} is empty, "
                f"not {proof_length} hashes"
            )
        return
    expected = _consistency_proof_length(old_size, new_size)
    if proof_length != expected:
        raise ProofError(
            f"a consistency proof from size {old_size} to {new_size} has {expected} hashes, "
            f"not {proof_length}"
        )


def _consistency_proof_length(old_size: int, new_size: int) -> int:
    # The proof is the inclusion proof of the old tree's last leaf, minus the
    # levels inside the old tree's rightmost perfect subtree, plus that
    # subtree's root unless it is the whole old tree.
    shift = (old_size & -old_size).bit_length() - 1
    length = _inclusion_proof_length(old_size - 1, new_size) - shift
    return length if old_size == 1 << shift else length + 1


def _roots_from_consistency_proof(
    old_size: int, new_size: int, old_root: bytes, proof: Sequence[bytes]
) -> tuple[bytes, bytes]:
    """Steps 2-6 of the RFC 9162 §2.1.4.2 verification algorithm."""
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    old_computed = new_computed = path[0]
    for sibling in path[1:]:
        if sn == 0:
            raise ProofError("the consistency proof has more hashes than the tree has levels")
        if fn & 1 or fn == sn:
            old_computed = node_hash(sibling, old_computed)
            new_computed = node_hash(sibling, new_computed)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            new_computed = node_hash(new_computed, sibling)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("the consistency proof has fewer hashes than the tree has levels")
    return old_computed, new_computed


def _check_leaf_hashes(leaf_hashes: Sequence[bytes]) -> None:
    for position, leaf in enumerate(leaf_hashes):
        if len(leaf) != HASH_SIZE:
            raise ValueError(
                f"leaf hash {position} has {len(leaf)} bytes; SHA-256 hashes have {HASH_SIZE}"
            )


def _check_hash_value(value: bytes, what: str) -> None:
    if len(value) != HASH_SIZE:
        raise ValueError(f"the {what} has {len(value)} bytes; SHA-256 hashes have {HASH_SIZE}")


def _check_hash(what: str, value: bytes) -> None:
    if len(value) != HASH_SIZE:
        raise ProofError(f"the {what} has {len(value)} bytes; SHA-256 hashes have {HASH_SIZE}")


def _check_proof_hashes(proof: Sequence[bytes]) -> None:
    for position, value in enumerate(proof):
        _check_hash(f"proof hash {position}", value)
