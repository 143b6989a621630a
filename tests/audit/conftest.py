"""The reference tree every audit test speaks about.

The eight leaves of the certificate-transparency test suite, as published in
transparency-dev/merkle proof/verify_test.go (and google/certificate-transparency
merkle_tree_test.cc before it), with the published root of every prefix.
"""

from __future__ import annotations

import pytest

from farebridge.codecs.merkle import leaf_hash

REFERENCE_LEAVES = [
    bytes.fromhex(data)
    for data in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]

# roots[n - 1] is the published root of the first n leaves.
REFERENCE_ROOTS = [
    bytes.fromhex(root)
    for root in (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    )
]


@pytest.fixture
def reference_leaf_hashes() -> list[bytes]:
    return [leaf_hash(data) for data in REFERENCE_LEAVES]


@pytest.fixture
def reference_roots() -> list[bytes]:
    return list(REFERENCE_ROOTS)
