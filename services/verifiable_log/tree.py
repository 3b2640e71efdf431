"""The log's Merkle tree kept as its perfect subtrees: node (level, index) covers leaves
[index·2^level, (index+1)·2^level) and, once complete, never changes. Appending stores
the nodes a batch completes; any root, inclusion proof or consistency proof of RFC 9162
§2.1 is then a few stored nodes, whatever the size of the log."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from .verifier import leaf_hash, node_hash

Node = tuple[int, int]            # (level, index)
Fetch = Callable[[set[Node]], dict[Node, bytes]]
EMPTY_ROOT = bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")

__all__ = ["EMPTY_ROOT", "Frontier", "consistency_proof", "inclusion_proof",
           "inclusion_proofs", "leaf_hash", "root_at"]


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


class Frontier:
    """The perfect subtrees covering the whole log, largest first: what an append needs."""

    def __init__(self, size: int, nodes: Iterable[tuple[int, int, bytes]]):
        self.size = size
        self.nodes = list(nodes)

    def append(self, leaves: list[bytes]) -> list[tuple[int, int, bytes]]:
        """Add leaf hashes; returns every node (level, index, hash) they complete,
        the leaves themselves (level 0) included."""
        new: list[tuple[int, int, bytes]] = []
        for h in leaves:
            node = (0, self.size, h)
            self.size += 1
            new.append(node)
            while self.nodes and self.nodes[-1][0] == node[0]:
                left = self.nodes.pop()
                node = (node[0] + 1, left[1] >> 1, node_hash(left[2], node[2]))
                new.append(node)
            self.nodes.append(node)
        return new

    def root(self) -> bytes:
        if not self.nodes:
            return EMPTY_ROOT
        r = self.nodes[-1][2]
        for _, _, h in reversed(self.nodes[:-1]):
            r = node_hash(h, r)
        return r


def _mth(lo: int, hi: int, get: Callable[[Node], bytes]) -> bytes:
    n = hi - lo
    if n & (n - 1) == 0:  # a perfect subtree (always aligned here)
        level = n.bit_length() - 1
        return get((level, lo >> level))
    k = _split(n)
    return node_hash(_mth(lo, lo + k, get), _mth(lo + k, hi, get))


def _path(m: int, lo: int, hi: int, get) -> list[bytes]:
    if hi - lo <= 1:
        return []
    k = _split(hi - lo)
    if m < lo + k:
        return _path(m, lo, lo + k, get) + [_mth(lo + k, hi, get)]
    return _path(m, lo + k, hi, get) + [_mth(lo, lo + k, get)]


def _subproof(m: int, lo: int, hi: int, whole: bool, get) -> list[bytes]:
    n = hi - lo
    if m == n:
        return [] if whole else [_mth(lo, hi, get)]
    k = _split(n)
    if m <= k:
        return _subproof(m, lo, lo + k, whole, get) + [_mth(lo + k, hi, get)]
    return _subproof(m - k, lo + k, hi, False, get) + [_mth(lo, lo + k, get)]


def _fetched(compute: Callable[[Callable[[Node], bytes]], object], fetch: Fetch):
    """Run `compute` twice: once to learn which stored nodes it reads, then on them."""
    wanted: set[Node] = set()

    def record(node: Node) -> bytes:
        wanted.add(node)
        return b"\0" * 32

    compute(record)
    nodes = fetch(wanted) if wanted else {}
    missing = wanted - set(nodes)
    if missing:
        raise LookupError(f"the log lacks {len(missing)} node(s), e.g. {min(missing)}")
    return compute(nodes.__getitem__)


def root_at(size: int, fetch: Fetch) -> bytes:
    return EMPTY_ROOT if size == 0 else _fetched(lambda get: _mth(0, size, get), fetch)


def inclusion_proof(index: int, size: int, fetch: Fetch) -> list[bytes]:
    return inclusion_proofs([index], size, fetch)[0]


def inclusion_proofs(indices: list[int], size: int, fetch: Fetch) -> list[list[bytes]]:
    """The audit paths of several leaves, their nodes fetched at once."""
    for index in indices:
        if not 0 <= index < size:
            raise ValueError(f"leaf {index} is not in a tree of {size}")
    return _fetched(lambda get: [_path(i, 0, size, get) for i in indices], fetch)


def consistency_proof(size1: int, size2: int, fetch: Fetch) -> list[bytes]:
    if not 0 <= size1 <= size2:
        raise ValueError(f"no consistency proof from {size1} to {size2}")
    if size1 in (0, size2):
        return []
    return _fetched(lambda get: _subproof(size1, 0, size2, True, get), fetch)
