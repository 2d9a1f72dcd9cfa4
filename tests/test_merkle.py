"""RFC 6962 Merkle hashing and proofs against the reference vectors.

The leaves, roots and proofs are the known answers of the Certificate Transparency
reference implementation (transparency-dev/merkle ``testonly`` data, which reproduces
google/certificate-transparency's merkle_tree_test).
"""

from __future__ import annotations

import random

import pytest

from tambo.core import merkle

LEAVES = [
    bytes.fromhex(h)
    for h in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]
# Root hashes of the trees of the first 0..8 leaves.
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
# Hashes of every perfect subtree of the 8-leaf tree, by level then index.
NODES = [
    [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
        "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
    ],
    [
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    ],
    [
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    ["5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"],
]
# (leaf index, tree size, audit path)
INCLUSION = [
    (0, 1, []),
    (0, 2, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"]),
    (1, 2, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]
# (first size, second size, consistency proof)
CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]


def leaf_hashes(n: int) -> list[bytes]:
    return [merkle.leaf_hash(leaf) for leaf in LEAVES[:n]]


def memory_fetch(leaves: list[bytes]):
    """A store of perfect subtree hashes computed straight from the leaves."""

    def subtree(level: int, index: int) -> bytes:
        if level == 0:
            return leaves[index]
        return merkle.node_hash(subtree(level - 1, 2 * index), subtree(level - 1, 2 * index + 1))

    return lambda keys: {key: subtree(*key) for key in keys}


def reference_root(leaves: list[bytes]) -> bytes:
    """RFC 6962 MTH written as the RFC's recursion, to cross-check the fast paths."""
    if not leaves:
        return merkle.EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = merkle.split_point(len(leaves))
    return merkle.node_hash(reference_root(leaves[:k]), reference_root(leaves[k:]))


def test_the_empty_tree_root_is_the_hash_of_nothing():
    assert merkle.EMPTY_ROOT.hex() == ROOTS[0]
    assert merkle.Builder().root().hex() == ROOTS[0]


@pytest.mark.parametrize("size", range(0, 9))
def test_roots_of_the_reference_trees(size):
    builder = merkle.Builder()
    for leaf in leaf_hashes(size):
        builder.append(leaf)
    assert builder.root().hex() == ROOTS[size]
    fetch = memory_fetch(leaf_hashes(8))
    assert merkle.ranges_hashes([(0, size)], fetch)[0].hex() == ROOTS[size]


def test_every_perfect_subtree_is_reported_as_it_completes_with_its_position():
    builder = merkle.Builder()
    completed = []
    for leaf in leaf_hashes(8):
        completed += builder.append(leaf)
    assert {(level, index): h.hex() for level, index, h in completed} == {
        (level, index): value
        for level, row in enumerate(NODES)
        if level
        for index, value in enumerate(row)
    }
    positions = [merkle.node_position(level, index) for level, index, _h in completed]
    assert positions == list(range(1, 8))


def test_a_builder_resumed_from_its_frontier_continues_the_same_tree():
    leaves = leaf_hashes(8)
    fetch = memory_fetch(leaves)
    for size in range(0, 8):
        keys = merkle.frontier_keys(size)
        known = fetch(set(keys))
        builder = merkle.Builder(size, [known[key] for key in keys])
        for leaf in leaves[size:]:
            builder.append(leaf)
        assert builder.root().hex() == ROOTS[8]


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION)
def test_inclusion_proofs_match_the_reference(index, size, path):
    fetch = memory_fetch(leaf_hashes(8))
    proof = merkle.ranges_hashes(merkle.inclusion_ranges(index, size), fetch)
    assert [p.hex() for p in proof] == path
    root = bytes.fromhex(ROOTS[size])
    leaf = leaf_hashes(8)[index]
    assert merkle.verify_inclusion(leaf, index, size, proof, root)
    assert not merkle.verify_inclusion(leaf_hashes(8)[(index + 1) % 8], index, size, proof, root)
    if proof:
        broken = [proof[0][:-1] + bytes([proof[0][-1] ^ 1]), *proof[1:]]
        assert not merkle.verify_inclusion(leaf, index, size, broken, root)
        assert not merkle.verify_inclusion(leaf, index, size, proof[:-1], root)


@pytest.mark.parametrize(("first", "second", "path"), CONSISTENCY)
def test_consistency_proofs_match_the_reference(first, second, path):
    fetch = memory_fetch(leaf_hashes(8))
    proof = merkle.ranges_hashes(merkle.consistency_ranges(first, second), fetch)
    assert [p.hex() for p in proof] == path
    first_root, second_root = bytes.fromhex(ROOTS[first]), bytes.fromhex(ROOTS[second])
    assert merkle.verify_consistency(first, second, first_root, second_root, proof)
    if proof:
        assert not merkle.verify_consistency(
            first, second, first_root, bytes.fromhex(ROOTS[second - 1]), proof
        )
        assert not merkle.verify_consistency(first, second, first_root, second_root, proof[1:])


def test_all_proofs_of_larger_random_trees_verify_against_the_rfc_recursion():
    rng = random.Random(6962)
    leaves = [merkle.leaf_hash(rng.randbytes(rng.randrange(0, 40))) for _ in range(70)]
    fetch = memory_fetch(leaves)
    for size in range(1, 71):
        root = reference_root(leaves[:size])
        assert merkle.ranges_hashes([(0, size)], fetch)[0] == root
        for index in range(size):
            proof = merkle.ranges_hashes(merkle.inclusion_ranges(index, size), fetch)
            assert merkle.verify_inclusion(leaves[index], index, size, proof, root)
        for first in range(0, size + 1):
            proof = merkle.ranges_hashes(merkle.consistency_ranges(first, size), fetch)
            first_root = reference_root(leaves[:first])
            assert merkle.verify_consistency(first, size, first_root, root, proof)
            if 0 < first < size:
                assert not merkle.verify_consistency(first, size, root, root, proof)


def test_out_of_range_requests_are_refused():
    with pytest.raises(ValueError):
        merkle.inclusion_ranges(3, 3)
    with pytest.raises(ValueError):
        merkle.consistency_ranges(5, 4)
    assert not merkle.verify_inclusion(merkle.EMPTY_ROOT, 0, 0, [], merkle.EMPTY_ROOT)
