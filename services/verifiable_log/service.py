"""The verifiable log: one append-only Merkle tree (RFC 9162) whose leaves are every
evidence record and every audit entry. The write path appends each committed group as a
batch of leaves and signs a checkpoint (C2SP signed note: origin, size, root, the audit
chain's head, the time) with a checkpoint key, in the group's own transaction; proofs are
computed from the stored perfect subtrees."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select, tuple_

from ..db import Database, Result, Statements
from . import tree
from .keys import LogKeys
from .models import Checkpoint, LogHead, LogLeaf, LogNode
from .verifier import b64, canonical

HEADS = LogHead.__table__
NODES = LogNode.__table__
LEAVES = LogLeaf.__table__
CHECKPOINTS = Checkpoint.__table__


@dataclass(frozen=True)
class Leaf:
    kind: str                  # evidence | audit
    data: bytes                # what is hashed (canonical JSON)
    item_id: str | None = None
    org_id: str | None = None
    ref: int | None = None     # the audit entry's seq


def audit_leaf(row: dict) -> Leaf:
    """An audit entry as a leaf: its fields, its place and its link in the chain."""
    data = {"log": "audit", "seq": row["seq"], "at": row["at"].isoformat(),
            "client_id": row["client_id"], "org_id": row["org_id"], "action": row["action"],
            "object": row["object"], "legal_basis": row["legal_basis"],
            "outcome": row["outcome"], "prev_hash": row["prev_hash"], "hash": row["hash"]}
    # As in the chain's hash: only when given, so that earlier leaves stay as they were.
    data.update({k: row[k] for k in ("agent", "purpose") if row.get(k) is not None})
    return Leaf("audit", canonical(data), org_id=row["org_id"], ref=row["seq"])


def checkpoint_text(origin: str, size: int, root: bytes, audit_seq: int, audit_hash: str,
                    at: datetime) -> str:
    return (f"{origin}\n{size}\n{b64(root)}\n"
            f"audit {audit_seq} {audit_hash}\ntime {at.isoformat()}\n")


class Appender:
    """Appends batches of leaves and signs their checkpoint, in the write path's
    transaction: `lock` queues the read of the head (row-locked until the transaction
    ends: appends are serialised there), `append` the rows of a batch."""

    def __init__(self, keys: LogKeys, origin: str, db: Database):
        self.keys = keys
        self.origin = origin
        self.db = db

    @staticmethod
    def lock(statements: Statements) -> Result:
        return statements.run("SELECT size, frontier FROM log_head WHERE id = 1 FOR UPDATE")

    def append(self, statements: Statements, head: Result, leaves: list[Leaf],
               audit_head: tuple[int, str], now: datetime) -> int:
        """Queue the leaves, the nodes they complete, the new head and its signed
        checkpoint; returns the first leaf's index."""
        frontier = _frontier(head)
        first = frontier.size
        nodes = frontier.append([tree.leaf_hash(leaf.data) for leaf in leaves])
        statements.insert(LEAVES, [
            {"idx": first + i, "kind": leaf.kind, "ref": leaf.ref, "item_id": leaf.item_id,
             "org_id": leaf.org_id} for i, leaf in enumerate(leaves)])
        statements.insert(NODES, [{"level": lv, "idx": i, "hash": h} for lv, i, h in nodes])
        self._close(statements, frontier, audit_head, now)
        return first

    def catch_up(self, statements: Statements, head: Result, latest_size: int | None,
                 audit_head: tuple[int, str], now: datetime) -> bool:
        """Sign a checkpoint for leaves appended without one (a migration's backfill), or
        the empty log's first, so that witnesses have something to start from."""
        frontier = _frontier(head)
        if latest_size == frontier.size:
            return False
        self._close(statements, frontier, audit_head, now)
        return True

    def _close(self, statements: Statements, frontier: tree.Frontier,
               audit_head: tuple[int, str], now: datetime) -> None:
        """The head after the batch, and its checkpoint signed."""
        value = json.dumps([[lv, i, h.hex()] for lv, i, h in frontier.nodes])
        statements.insert(HEADS, [{"id": 1, "size": frontier.size, "frontier": value}],
                          on_conflict="(id) DO UPDATE SET size = excluded.size, "
                                      "frontier = excluded.frontier")
        root = frontier.root()
        key = self.keys.signing(now)
        note = key.sign(checkpoint_text(self.origin, frontier.size, root, audit_head[0],
                                        audit_head[1], now))
        statements.insert(CHECKPOINTS, [
            {"size": frontier.size, "root": root, "at": now, "audit_seq": audit_head[0],
             "audit_hash": audit_head[1], "key_id": key.key_id.hex(), "note": note}])


def _frontier(head: Result) -> tree.Frontier:
    if not head.rows:
        return tree.Frontier(0, [])
    size, nodes = head.rows[0]
    return tree.Frontier(size, [(lv, i, bytes.fromhex(h)) for lv, i, h in json.loads(nodes)])


# --- reading ------------------------------------------------------------------------------

def fetcher(conn: Connection) -> tree.Fetch:
    def fetch(wanted: set[tree.Node]) -> dict[tree.Node, bytes]:
        found: dict[tree.Node, bytes] = {}
        wanted_list = sorted(wanted)
        for start in range(0, len(wanted_list), 500):
            chunk = wanted_list[start:start + 500]
            for lv, i, h in conn.execute(select(NODES.c.level, NODES.c.idx, NODES.c.hash)
                                         .where(tuple_(NODES.c.level, NODES.c.idx).in_(chunk))):
                found[(lv, i)] = bytes(h)
        return found
    return fetch


def latest(conn: Connection):
    return conn.execute(select(CHECKPOINTS).order_by(CHECKPOINTS.c.size.desc())
                        .limit(1)).first()


def checkpoint_of_size(conn: Connection, size: int):
    return conn.execute(select(CHECKPOINTS).where(CHECKPOINTS.c.size == size)).first()


def inclusion(conn: Connection, index: int, size: int) -> list[str]:
    return inclusions(conn, [index], size)[0]


def inclusions(conn: Connection, indices: list[int], size: int) -> list[list[str]]:
    """The inclusion proofs of several leaves, their nodes read in one query."""
    return [[b64(h) for h in path]
            for path in tree.inclusion_proofs(indices, size, fetcher(conn))]


def consistency(conn: Connection, size1: int, size2: int) -> list[str]:
    return [b64(h) for h in tree.consistency_proof(size1, size2, fetcher(conn))]


def leaf(conn: Connection, index: int):
    return conn.execute(select(LEAVES).where(LEAVES.c.idx == index)).first()


def checkpoint_resource(row) -> dict:
    return {"size": row.size, "root": b64(row.root), "time": row.at.isoformat(),
            "audit": {"seq": row.audit_seq, "hash": row.audit_hash}, "key_id": row.key_id,
            "note": row.note}
