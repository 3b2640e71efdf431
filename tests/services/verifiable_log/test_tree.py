"""The log's tree against RFC 9162's definitions, computed here from the leaves alone:
roots, inclusion and consistency proofs of every size, the verifier accepting each and
refusing altered ones. Pure: no database."""

from __future__ import annotations

import hashlib

import pytest

from services.verifiable_log import tree
from services.verifiable_log.verifier import (
    Refused,
    leaf_hash,
    root_from_inclusion,
    verify_consistency,
)


def mth(leaves: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1, literally."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + mth(leaves[:k]) + mth(leaves[k:])).digest()


def built(n: int, batches=(5, 1, 34)):
    """n leaves appended in uneven batches; the stored nodes and a fetcher."""
    leaves = [leaf_hash(f"leaf {i}".encode()) for i in range(n)]
    store: dict = {}
    frontier = tree.Frontier(0, [])
    i, b = 0, 0
    while i < n:
        size = batches[b % len(batches)]
        for level, index, h in frontier.append(leaves[i:i + size]):
            assert (level, index) not in store, "a node is written once"
            store[(level, index)] = h
        i, b = i + size, b + 1
    return leaves, frontier, (lambda wanted: {k: store[k] for k in wanted if k in store})


def test_leaf_and_node_hashes_are_domain_separated():
    assert leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert hashlib.sha256(b"").digest() == tree.EMPTY_ROOT


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 33, 64, 65])
def test_roots_and_inclusion_proofs(n):
    leaves, frontier, fetch = built(n)
    assert frontier.root() == mth(leaves)
    for size in range(1, n + 1):
        root = tree.root_at(size, fetch)
        assert root == mth(leaves[:size])
        for i in range(size):
            path = tree.inclusion_proof(i, size, fetch)
            assert root_from_inclusion(i, size, leaves[i], path) == root
            other = leaves[(i + 1) % size]
            if size > 1:
                assert root_from_inclusion(i, size, other, path) != root
            if path:
                with pytest.raises(Refused):
                    root_from_inclusion(i, size, leaves[i], path[:-1])


@pytest.mark.parametrize("n", [1, 2, 3, 8, 13, 32, 40])
def test_consistency_proofs(n):
    leaves, _, fetch = built(n)
    for second in range(1, n + 1):
        for first in range(0, second + 1):
            proof = tree.consistency_proof(first, second, fetch)
            verify_consistency(first, second, mth(leaves[:first]), mth(leaves[:second]), proof)
            if 0 < first < second:
                forked = leaves[:first - 1] + [leaf_hash(b"rewritten")] + leaves[first:]
                with pytest.raises(Refused):
                    verify_consistency(first, second, mth(forked[:first]),
                                       mth(leaves[:second]), proof)


def test_rollback_and_same_size_fork_are_refused():
    leaves, _, _ = built(10)
    with pytest.raises(Refused, match="rollback"):
        verify_consistency(10, 9, mth(leaves), mth(leaves[:9]), [])
    with pytest.raises(Refused, match="fork"):
        verify_consistency(10, 10, mth(leaves), mth(leaves[:9] + [leaf_hash(b"x")]), [])


def test_a_missing_node_is_an_error_not_a_wrong_proof():
    _, _, fetch = built(9)
    with pytest.raises(LookupError):
        tree.inclusion_proof(0, 9, lambda wanted: {})
    with pytest.raises(ValueError):
        tree.inclusion_proof(9, 9, fetch)
