"""Merkle trees in the style of RFC 9162 (Certificate Transparency v2): leaf and node
hashes are domain-separated, so a leaf can never pass for a node; a group's evidence
records are the leaves of one tree whose root the hub signs once."""

from __future__ import annotations

import hashlib


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (RFC 9162 §2.1.1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def root(leaves: list[bytes]) -> bytes:
    """The tree head of the leaf hashes (the empty tree hashes the empty string)."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return node_hash(root(leaves[:k]), root(leaves[k:]))


def inclusion_proof(index: int, leaves: list[bytes]) -> list[bytes]:
    """The audit path of leaf `index` (RFC 9162 §2.1.3.1), nearest sibling first."""
    if len(leaves) <= 1:
        return []
    k = _split(len(leaves))
    if index < k:
        return inclusion_proof(index, leaves[:k]) + [root(leaves[k:])]
    return inclusion_proof(index - k, leaves[k:]) + [root(leaves[:k])]


def proofs(leaves: list[bytes]) -> tuple[bytes, list[list[bytes]]]:
    """The root and every leaf's audit path at once (subtree roots computed once)."""
    memo: dict[tuple[int, int], bytes] = {}

    def sub(lo: int, hi: int) -> bytes:
        if (lo, hi) not in memo:
            if hi - lo == 1:
                memo[(lo, hi)] = leaves[lo]
            else:
                k = _split(hi - lo)
                memo[(lo, hi)] = node_hash(sub(lo, lo + k), sub(lo + k, hi))
        return memo[(lo, hi)]

    def path(index: int, lo: int, hi: int) -> list[bytes]:
        if hi - lo <= 1:
            return []
        k = _split(hi - lo)
        if index < lo + k:
            return path(index, lo, lo + k) + [sub(lo + k, hi)]
        return path(index, lo + k, hi) + [sub(lo, lo + k)]

    if not leaves:
        return root([]), []
    return sub(0, len(leaves)), [path(i, 0, len(leaves)) for i in range(len(leaves))]


def root_from_proof(index: int, size: int, leaf: bytes, path: list[bytes]) -> bytes | None:
    """Recompute the root from a leaf and its audit path (RFC 9162 §2.1.3.2); None when the
    path cannot belong to a tree of that size."""
    if not 0 <= index < size:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None
