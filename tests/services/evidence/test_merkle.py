"""Merkle trees (RFC 9162 hashing): every leaf's proof leads to the root; no other leaf's
does."""

from __future__ import annotations

import hashlib

from services.evidence import merkle


def _leaves(n: int) -> list[bytes]:
    return [merkle.leaf_hash(str(i).encode()) for i in range(n)]


def test_every_leaf_proves_its_place_in_trees_of_every_size():
    for n in range(1, 34):
        leaves = _leaves(n)
        root, paths = merkle.proofs(leaves)
        assert root == merkle.root(leaves)
        for i in range(n):
            assert paths[i] == merkle.inclusion_proof(i, leaves)
            assert merkle.root_from_proof(i, n, leaves[i], paths[i]) == root
            if n > 1:
                assert merkle.root_from_proof(i, n, leaves[(i + 1) % n], paths[i]) != root


def test_known_vectors():
    """RFC 9162 §2.1.1: the empty tree, one leaf, and domain separation."""
    assert merkle.root([]) == hashlib.sha256(b"").digest()
    assert merkle.root([merkle.leaf_hash(b"")]) == hashlib.sha256(b"\x00").digest()
    a, b = merkle.leaf_hash(b"a"), merkle.leaf_hash(b"b")
    assert merkle.root([a, b]) == hashlib.sha256(b"\x01" + a + b).digest()
    assert merkle.root_from_proof(2, 2, a, []) is None
