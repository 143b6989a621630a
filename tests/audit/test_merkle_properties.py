"""Merkle invariants over random trees.

The reference here is RFC 9162 §2.1.1's recursive definition, written out
as plainly as the RFC states it, so that the fast level-by-level code is
held to the standard's own words.
"""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from farebridge.codecs.merkle import (
    MerkleFrontier,
    ProofError,
    SubtreeRoot,
    combine_subtrees,
    consistency_path,
    consistency_proof,
    inclusion_path,
    inclusion_proof,
    leaf_hash,
    node_hash,
    perfect_subtrees,
    root_hash,
    verify_consistency,
    verify_inclusion,
)


def rfc_tree_hash(leaf_hashes: list[bytes]) -> bytes:
    """MTH(D[n]) exactly as RFC 9162 §2.1.1 defines it."""
    if not leaf_hashes:
        return hashlib.sha256(b"").digest()
    if len(leaf_hashes) == 1:
        return leaf_hashes[0]
    k = 1
    while k * 2 < len(leaf_hashes):
        k *= 2
    return node_hash(rfc_tree_hash(leaf_hashes[:k]), rfc_tree_hash(leaf_hashes[k:]))


# Distinct entries: two equal leaves make a proof for one valid for the other.
entries = st.lists(st.binary(max_size=12), min_size=1, max_size=70, unique=True)


@st.composite
def tree_and_index(draw: st.DrawFn) -> tuple[list[bytes], int]:
    leaves = [leaf_hash(entry) for entry in draw(entries)]
    return leaves, draw(st.integers(0, len(leaves) - 1))


@st.composite
def tree_and_old_size(draw: st.DrawFn) -> tuple[list[bytes], int]:
    leaves = [leaf_hash(entry) for entry in draw(entries)]
    return leaves, draw(st.integers(0, len(leaves)))


def flip_bit(value: bytes, bit: int) -> bytes:
    bit %= len(value) * 8
    changed = bytearray(value)
    changed[bit // 8] ^= 1 << (bit % 8)
    return bytes(changed)


def rejects_inclusion(leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes) -> bool:
    try:
        verify_inclusion(leaf, index, size, proof, root)
    except ProofError:
        return True
    return False


def rejects_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: list[bytes]
) -> bool:
    try:
        verify_consistency(old_size, new_size, old_root, new_root, proof)
    except ProofError:
        return True
    return False


@given(st.lists(st.binary(max_size=12), max_size=70))
def test_root_hash_is_the_rfc_tree_hash(data: list[bytes]) -> None:
    leaves = [leaf_hash(entry) for entry in data]
    assert root_hash(leaves) == rfc_tree_hash(leaves)


@given(st.lists(st.binary(max_size=12), max_size=70))
def test_frontier_root_equals_batch_root_for_every_prefix(data: list[bytes]) -> None:
    leaves = [leaf_hash(entry) for entry in data]
    frontier = MerkleFrontier()
    assert frontier.root() == root_hash([])
    for size, leaf in enumerate(leaves, start=1):
        before = frontier
        frontier = frontier.append(leaf)
        assert frontier.size == size
        assert frontier.root() == root_hash(leaves[:size])
        assert before.size == size - 1, "append must not change the frontier it was called on"
    assert MerkleFrontier().extend(leaves) == frontier


@given(tree_and_index())
def test_every_inclusion_proof_verifies(case: tuple[list[bytes], int]) -> None:
    leaves, index = case
    proof = inclusion_proof(leaves, index)
    verify_inclusion(leaves[index], index, len(leaves), proof, root_hash(leaves))


@given(tree_and_index(), st.integers(min_value=0), st.sampled_from(["leaf", "root", "proof"]))
def test_any_flipped_bit_breaks_an_inclusion_proof(
    case: tuple[list[bytes], int], bit: int, target: str
) -> None:
    leaves, index = case
    leaf, root, proof = leaves[index], root_hash(leaves), inclusion_proof(leaves, index)
    if target == "leaf":
        leaf = flip_bit(leaf, bit)
    elif target == "root":
        root = flip_bit(root, bit)
    else:
        assume(proof)
        position = bit % len(proof)
        proof[position] = flip_bit(proof[position], bit // len(proof))
    assert rejects_inclusion(leaf, index, len(leaves), proof, root)


@given(tree_and_index(), st.integers(min_value=0))
def test_an_inclusion_proof_holds_only_at_its_own_index(
    case: tuple[list[bytes], int], other: int
) -> None:
    leaves, index = case
    other %= len(leaves)
    assume(other != index)
    proof = inclusion_proof(leaves, index)
    assert rejects_inclusion(leaves[index], other, len(leaves), proof, root_hash(leaves))


@given(tree_and_old_size())
def test_every_consistency_proof_verifies(case: tuple[list[bytes], int]) -> None:
    leaves, old_size = case
    proof = consistency_proof(leaves, old_size)
    old_root, new_root = root_hash(leaves[:old_size]), root_hash(leaves)
    verify_consistency(old_size, len(leaves), old_root, new_root, proof)


@given(
    tree_and_old_size(),
    st.integers(min_value=0),
    st.sampled_from(["old root", "new root", "proof"]),
)
def test_any_flipped_bit_breaks_a_consistency_proof(
    case: tuple[list[bytes], int], bit: int, target: str
) -> None:
    leaves, old_size = case
    proof = consistency_proof(leaves, old_size)
    old_root, new_root = root_hash(leaves[:old_size]), root_hash(leaves)
    if target == "old root":
        old_root = flip_bit(old_root, bit)
    elif target == "new root":
        # Every tree extends the empty tree: from size 0, any new root is consistent.
        assume(old_size > 0)
        new_root = flip_bit(new_root, bit)
    else:
        assume(proof)
        position = bit % len(proof)
        proof[position] = flip_bit(proof[position], bit // len(proof))
    assert rejects_consistency(old_size, len(leaves), old_root, new_root, proof)


@given(tree_and_old_size(), st.binary(min_size=1, max_size=12))
def test_a_rewritten_history_is_not_consistent(
    case: tuple[list[bytes], int], replacement: bytes
) -> None:
    leaves, old_size = case
    assume(old_size > 0)
    forged = leaf_hash(replacement)
    assume(forged != leaves[old_size - 1])
    rewritten = [*leaves[: old_size - 1], forged, *leaves[old_size:]]
    proof = consistency_proof(rewritten, old_size)
    old_root, new_root = root_hash(leaves[:old_size]), root_hash(rewritten)
    assert rejects_consistency(old_size, len(leaves), old_root, new_root, proof)


def _from_perfect_subtrees(leaves: list[bytes]) -> SubtreeRoot:
    """Subtree roots as a log that stores perfect subtrees answers them:
    each range split by ``perfect_subtrees``, each part hashed on its own."""

    def subtree_root(low: int, high: int) -> bytes:
        parts = perfect_subtrees(low, high)
        return combine_subtrees(
            [rfc_tree_hash(leaves[index << level : (index + 1) << level]) for level, index in parts]
        )

    return subtree_root


@given(tree_and_index())
def test_proofs_from_perfect_subtrees_are_the_proofs_from_leaves(
    case: tuple[list[bytes], int],
) -> None:
    leaves, index = case
    size = len(leaves)
    subtree_root = _from_perfect_subtrees(leaves)
    assert inclusion_path(index, size, subtree_root) == inclusion_proof(leaves, index)
    assert consistency_path(index, size, subtree_root) == consistency_proof(leaves, index)
    assert subtree_root(0, size) == rfc_tree_hash(leaves)


@given(st.integers(0, 2**40), st.integers(0, 2**40))
def test_perfect_subtrees_split_only_what_a_tree_splits(low: int, high: int) -> None:
    """Every prefix and every subtree a proof can name is split into
    aligned perfect subtrees, largest first, covering it exactly; any other
    range is refused rather than hashed wrongly."""
    low, high = min(low, high), max(low, high)
    # Aligned: the largest power of two that fits starts at a multiple of itself.
    aligned = low in (0, high) or (low & -low) >= 1 << ((high - low).bit_length() - 1)
    if not aligned:
        with pytest.raises(ValueError, match="not a subtree or a prefix"):
            perfect_subtrees(low, high)
        return
    parts = perfect_subtrees(low, high)
    levels = [level for level, _ in parts]
    assert levels == sorted(set(levels), reverse=True)
    position = low
    for level, index in parts:
        assert index << level == position
        position += 1 << level
    assert position == high
