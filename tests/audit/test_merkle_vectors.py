"""RFC 9162 / RFC 6962 Merkle hashing and proofs against published vectors.

Vectors: transparency-dev/merkle, rfc6962/rfc6962_test.go (hasher) and
proof/verify_test.go (roots of the reference tree, inclusion and consistency
proofs, and the corruptions a verifier must reject), which carry over the
vectors of google/certificate-transparency's merkle_tree_test.cc. Leaf numbers
in the Go vectors count from 1; indexes here count from 0.
"""

from __future__ import annotations

import hashlib
from typing import NamedTuple

import pytest

from farebridge.codecs.merkle import (
    EMPTY_ROOT,
    MerkleFrontier,
    ProofError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_hash,
    streaming_root_hash,
    verify_consistency,
    verify_inclusion,
)


def h(text: str) -> bytes:
    return bytes.fromhex(text)


SOME_HASH = h("abacaba000000000000000000000000000000000000000000060061e00123456")

# (index, tree size, proof) from verify_test.go's inclusionProofs.
INCLUSION_VECTORS = [
    (0, 1, []),
    (
        0,
        8,
        [
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        5,
        8,
        [
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    (2, 3, [h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")]),
    (
        1,
        5,
        [
            h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
]

# (old size, new size, proof) from verify_test.go's consistencyProofs.
CONSISTENCY_VECTORS = [
    (1, 1, []),
    (
        1,
        8,
        [
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ],
    ),
    (
        6,
        8,
        [
            h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
    (
        2,
        5,
        [
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ],
    ),
    (
        6,
        7,
        [
            h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
            h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ],
    ),
]


def test_hasher_matches_the_published_rfc6962_hashes() -> None:
    # rfc6962_test.go, TestRFC6962Hasher.
    assert h("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == EMPTY_ROOT
    assert leaf_hash(b"") == h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d")
    assert leaf_hash(b"L123456") == h(
        "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56"
    )
    assert node_hash(b"N123", b"N456") == h(
        "aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb"
    )


def test_a_node_is_never_the_leaf_of_its_concatenated_children() -> None:
    left, right = leaf_hash(b"Hello"), leaf_hash(b"World")
    assert node_hash(left, right) != leaf_hash(left + right)
    assert node_hash(left, right) != node_hash(right, left)


def test_empty_tree_root_is_sha256_of_nothing() -> None:
    assert root_hash([]) == hashlib.sha256(b"").digest()
    assert MerkleFrontier().root() == EMPTY_ROOT
    assert streaming_root_hash(iter([])) == EMPTY_ROOT


@pytest.mark.parametrize("size", range(1, 9))
def test_root_of_every_prefix_matches_the_published_root(
    size: int, reference_leaf_hashes: list[bytes], reference_roots: list[bytes]
) -> None:
    prefix = reference_leaf_hashes[:size]
    assert root_hash(prefix) == reference_roots[size - 1]
    assert MerkleFrontier().extend(prefix).root() == reference_roots[size - 1]
    assert streaming_root_hash(iter(prefix)) == reference_roots[size - 1]


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION_VECTORS)
def test_inclusion_proof_matches_and_verifies(
    index: int,
    size: int,
    proof: list[bytes],
    reference_leaf_hashes: list[bytes],
    reference_roots: list[bytes],
) -> None:
    leaves = reference_leaf_hashes[:size]
    assert inclusion_proof(leaves, index) == proof
    verify_inclusion(leaves[index], index, size, proof, reference_roots[size - 1])


@pytest.mark.parametrize(("old_size", "new_size", "proof"), CONSISTENCY_VECTORS)
def test_consistency_proof_matches_and_verifies(
    old_size: int,
    new_size: int,
    proof: list[bytes],
    reference_leaf_hashes: list[bytes],
    reference_roots: list[bytes],
) -> None:
    assert consistency_proof(reference_leaf_hashes[:new_size], old_size) == proof
    old_root, new_root = reference_roots[old_size - 1], reference_roots[new_size - 1]
    verify_consistency(old_size, new_size, old_root, new_root, proof)


def test_rfc9162_consistency_example_is_c_d_g_l(reference_leaf_hashes: list[bytes]) -> None:
    # RFC 9162 §2.1.5: the proof between the trees of 3 and 7 leaves is [c, d, g, l].
    a, b, c, d, e, f, j = reference_leaf_hashes[:7]
    g, i = node_hash(a, b), node_hash(e, f)
    assert consistency_proof(reference_leaf_hashes[:7], 3) == [c, d, g, node_hash(i, j)]


def _flip(value: bytes, mask: int) -> bytes:
    return bytes([value[0] ^ mask]) + value[1:]


class InclusionClaim(NamedTuple):
    leaf_hash: bytes
    leaf_index: int
    tree_size: int
    proof: list[bytes]
    root: bytes


class ConsistencyClaim(NamedTuple):
    old_size: int
    new_size: int
    old_root: bytes
    new_root: bytes
    proof: list[bytes]


def _inclusion_probes(claim: InclusionClaim) -> dict[str, InclusionClaim]:
    """verify_test.go's corruptInclusionProof: each probe must be rejected."""
    _, index, size, proof, root = claim
    probes = {
        "index - 1": claim._replace(leaf_index=index - 1),
        "index + 1": claim._replace(leaf_index=index + 1),
        "index ^ 2": claim._replace(leaf_index=index ^ 2),
        "size * 2": claim._replace(tree_size=size * 2),
        "size // 2": claim._replace(tree_size=size // 2),
        "wrong leaf": claim._replace(leaf_hash=b"WrongLeaf"),
        "empty root": claim._replace(root=EMPTY_ROOT),
        "random root": claim._replace(root=SOME_HASH),
        "trailing garbage": claim._replace(proof=[*proof, b""]),
        "trailing root": claim._replace(proof=[*proof, root]),
        "preceding garbage": claim._replace(proof=[b"", *proof]),
        "preceding root": claim._replace(proof=[root, *proof]),
    }
    for position in range(len(proof)):
        flipped = list(proof)
        flipped[position] = _flip(flipped[position], 8)
        probes[f"proof[{position}] bit 3 flipped"] = claim._replace(proof=flipped)
    if proof:
        probes["removed component"] = claim._replace(proof=proof[:-1])
    if len(proof) > 1:
        probes["inserted component"] = claim._replace(proof=[proof[0], SOME_HASH, *proof[1:]])
    return probes


def _consistency_probes(claim: ConsistencyClaim) -> dict[str, ConsistencyClaim]:
    """verify_test.go's corruptConsistencyProof: each probe must be rejected."""
    old_size, new_size, old_root, new_root, proof = claim
    probes = {
        "old size - 1": claim._replace(old_size=old_size - 1),
        "old size + 1": claim._replace(old_size=old_size + 1),
        "old size ^ 2": claim._replace(old_size=old_size ^ 2),
        "new size * 2": claim._replace(new_size=new_size * 2),
        "new size // 2": claim._replace(new_size=new_size // 2),
        "wrong old root": claim._replace(old_root=b"WrongRoot"),
        "wrong new root": claim._replace(new_root=b"WrongRoot"),
        "swapped roots": claim._replace(old_root=new_root, new_root=old_root),
        "empty proof": claim._replace(proof=[]),
        "trailing garbage": claim._replace(proof=[*proof, b""]),
        "trailing old root": claim._replace(proof=[*proof, old_root]),
        "trailing new root": claim._replace(proof=[*proof, new_root]),
        "preceding garbage": claim._replace(proof=[b"", *proof]),
        "preceding old root": claim._replace(proof=[old_root, *proof]),
        "preceding new root": claim._replace(proof=[new_root, *proof]),
        "preceding proof[0]": claim._replace(proof=[proof[0], *proof]),
        "truncated proof": claim._replace(proof=proof[:-1]),
    }
    for position in range(len(proof)):
        flipped = list(proof)
        flipped[position] = _flip(flipped[position], 16)
        probes[f"proof[{position}] bit 4 flipped"] = claim._replace(proof=flipped)
    return probes


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION_VECTORS)
def test_corrupted_inclusion_proofs_are_rejected(
    index: int,
    size: int,
    proof: list[bytes],
    reference_leaf_hashes: list[bytes],
    reference_roots: list[bytes],
) -> None:
    claim = InclusionClaim(
        reference_leaf_hashes[index], index, size, proof, reference_roots[size - 1]
    )
    verify_inclusion(*claim)
    accepted = []
    for description, probe in _inclusion_probes(claim).items():
        try:
            verify_inclusion(*probe)
        except ProofError:
            continue
        accepted.append(description)
    assert accepted == []


@pytest.mark.parametrize(
    ("old_size", "new_size", "proof"), [vector for vector in CONSISTENCY_VECTORS if vector[2]]
)
def test_corrupted_consistency_proofs_are_rejected(
    old_size: int, new_size: int, proof: list[bytes], reference_roots: list[bytes]
) -> None:
    old_root, new_root = reference_roots[old_size - 1], reference_roots[new_size - 1]
    claim = ConsistencyClaim(old_size, new_size, old_root, new_root, proof)
    verify_consistency(*claim)
    accepted = []
    for description, probe in _consistency_probes(claim).items():
        try:
            verify_consistency(*probe)
        except ProofError:
            continue
        accepted.append(description)
    assert accepted == []


def test_single_entry_tree_needs_matching_leaf_and_root() -> None:
    # verify_test.go, TestVerifyInclusionSingleEntry.
    single = leaf_hash(b"data")
    verify_inclusion(single, 0, 1, [], single)
    for leaf, root in ((single, b""), (b"", single), (b"", b"")):
        with pytest.raises(ProofError):
            verify_inclusion(leaf, 0, 1, [], root)


@pytest.mark.parametrize(("index", "size"), [(0, 0), (1, 0), (2, 1), (-1, 4), (0, -1)])
def test_inclusion_outside_the_tree_is_rejected(index: int, size: int) -> None:
    # verify_test.go, TestVerifyInclusion's probes, plus negative values.
    with pytest.raises(ProofError, match=r"index|negative"):
        verify_inclusion(SOME_HASH, index, size, [], EMPTY_ROOT)


@pytest.mark.parametrize(
    ("old_size", "new_size", "old_root", "new_root", "proof"),
    [
        # verify_test.go, TestVerifyConsistency, with 32-byte stand-ins for its roots.
        (0, 0, SOME_HASH, EMPTY_ROOT, []),
        (1, 1, SOME_HASH, EMPTY_ROOT, []),
        (1, 0, SOME_HASH, EMPTY_ROOT, []),
        (2, 1, SOME_HASH, EMPTY_ROOT, []),
        (1, 2, SOME_HASH, EMPTY_ROOT, []),
        (0, 0, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT]),
        (0, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT]),
        (1, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT]),
        (-1, 1, EMPTY_ROOT, EMPTY_ROOT, []),
    ],
)
def test_degenerate_consistency_claims_are_rejected(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: list[bytes]
) -> None:
    with pytest.raises(ProofError):
        verify_consistency(old_size, new_size, old_root, new_root, proof)


def test_trivially_consistent_sizes_need_no_proof(reference_roots: list[bytes]) -> None:
    verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    verify_consistency(0, 8, EMPTY_ROOT, reference_roots[7], [])
    verify_consistency(5, 5, reference_roots[4], reference_roots[4], [])


def test_an_old_empty_tree_must_have_the_empty_root(reference_roots: list[bytes]) -> None:
    with pytest.raises(ProofError, match="empty tree"):
        verify_consistency(0, 8, SOME_HASH, reference_roots[7], [])


def test_errors_name_the_failed_check(
    reference_leaf_hashes: list[bytes], reference_roots: list[bytes]
) -> None:
    index, size, proof = INCLUSION_VECTORS[2]
    with pytest.raises(ProofError, match="has 3 hashes, not 2"):
        verify_inclusion(reference_leaf_hashes[index], index, size, proof[:2], reference_roots[7])
    with pytest.raises(ProofError, match="does not lead to the root"):
        verify_inclusion(reference_leaf_hashes[4], index, size, proof, reference_roots[7])
    with pytest.raises(ProofError, match="proof hash 1 has 31 bytes"):
        verify_inclusion(
            reference_leaf_hashes[index], index, size, [proof[0], proof[1][:31]], reference_roots[7]
        )
    old_size, new_size, consistency = CONSISTENCY_VECTORS[2]
    with pytest.raises(ProofError, match="old root"):
        verify_consistency(old_size, new_size, SOME_HASH, reference_roots[7], consistency)
    with pytest.raises(ProofError, match="new root"):
        verify_consistency(old_size, new_size, reference_roots[5], SOME_HASH, consistency)


@pytest.mark.parametrize(("index", "size"), [(-1, 3), (3, 3), (0, 0)])
def test_inclusion_proof_refuses_an_index_outside_the_tree(
    index: int, size: int, reference_leaf_hashes: list[bytes]
) -> None:
    with pytest.raises(ValueError, match="outside"):
        inclusion_proof(reference_leaf_hashes[:size], index)


@pytest.mark.parametrize("old_size", [-1, 4])
def test_consistency_proof_refuses_an_old_size_outside_the_tree(
    old_size: int, reference_leaf_hashes: list[bytes]
) -> None:
    with pytest.raises(ValueError, match="outside"):
        consistency_proof(reference_leaf_hashes[:3], old_size)


def test_generators_refuse_hashes_of_the_wrong_length(reference_leaf_hashes: list[bytes]) -> None:
    leaves = [*reference_leaf_hashes[:3], b"short"]
    for generate in (root_hash, lambda ls: inclusion_proof(ls, 0), MerkleFrontier().extend):
        with pytest.raises(ValueError, match="5 bytes"):
            generate(leaves)


def test_frontier_is_immutable_and_validated(reference_leaf_hashes: list[bytes]) -> None:
    three = MerkleFrontier().extend(reference_leaf_hashes[:3])
    four = three.append(reference_leaf_hashes[3])
    assert (three.size, len(three.peaks)) == (3, 2)
    assert (four.size, len(four.peaks)) == (4, 1)
    assert three.root() == root_hash(reference_leaf_hashes[:3])
    with pytest.raises(ValueError, match="peaks"):
        MerkleFrontier(3, three.peaks[:1])
    with pytest.raises(ValueError, match="negative"):
        MerkleFrontier(-1, ())


@pytest.mark.slow
def test_a_million_leaves_prove_and_verify() -> None:
    size = 1_000_003
    leaves = [leaf_hash(number.to_bytes(8, "big")) for number in range(size)]
    root = root_hash(leaves)
    assert MerkleFrontier().extend(leaves).root() == root
    index = 765_432
    verify_inclusion(leaves[index], index, size, inclusion_proof(leaves, index), root)
    old_size = 524_289
    proof = consistency_proof(leaves, old_size)
    verify_consistency(old_size, size, root_hash(leaves[:old_size]), root, proof)
