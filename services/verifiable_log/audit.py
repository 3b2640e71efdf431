"""What `vigie audit verify` adds to walking the chain: the log, recomputed from the
audit entries and evidence records themselves, must give the root of the latest checkpoint
signed by a trusted key, and that checkpoint's audit head must be the chain's entry at its
place. Someone with database access can rehash the chain; they cannot sign a checkpoint."""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..audit.models import AuditEntry
from ..evidence.models import Evidence
from . import tree
from .models import LogLeaf, LogNode
from .service import audit_leaf, latest
from .verifier import Checkpoint, KeySet, Refused, canonical, leaf_hash

_BATCH = 5000


def _entry_row(e: AuditEntry) -> dict:
    return {"seq": e.seq, "at": e.at, "client_id": e.client_id, "org_id": e.org_id,
            "action": e.action, "object": e.object, "legal_basis": e.legal_basis,
            "outcome": e.outcome, "prev_hash": e.prev_hash, "hash": e.hash,
            "agent": e.agent, "purpose": e.purpose}


def verify_logged(session: Session, keys: KeySet) -> list[str]:
    """One line per problem (empty when the log vouches for the chain as it is)."""
    conn = session.connection()
    head = latest(conn)
    if head is None:
        count = session.scalar(select(AuditEntry.seq).limit(1))
        return ["no signed checkpoint vouches for the audit log"] if count else []
    try:
        keys.verify(Checkpoint(head.note))
    except Refused as exc:
        return [f"the latest checkpoint is not genuine: {exc}"]
    signed = Checkpoint(head.note)
    problems: list[str] = []
    frontier = tree.Frontier(0, [])
    logged_seqs: set[int] = set()
    for start in range(0, signed.size, _BATCH):
        stop = min(start + _BATCH, signed.size)
        leaves = session.execute(select(LogLeaf).where(LogLeaf.idx >= start,
                                                       LogLeaf.idx < stop)
                                 .order_by(LogLeaf.idx)).scalars().all()
        stored = dict(session.execute(select(LogNode.idx, LogNode.hash).where(
            LogNode.level == 0, LogNode.idx >= start, LogNode.idx < stop)).all())
        entries = {e.seq: e for e in session.scalars(select(AuditEntry).where(
            AuditEntry.seq.in_([lf.ref for lf in leaves if lf.kind == "audit"])))}
        records = dict(session.execute(select(Evidence.log_index, Evidence.claims).where(
            Evidence.log_index >= start, Evidence.log_index < stop)).all())
        if len(leaves) != stop - start:
            problems.append(f"log leaves {start}-{stop - 1} are missing")
            return problems
        hashes = []
        for lf in leaves:
            if lf.kind == "audit":
                logged_seqs.add(lf.ref)
                entry = entries.get(lf.ref)
                what = f"audit entry {lf.ref}"
                if entry is not None and entry.purged:
                    # Its fields are gone (audit retention): the signed root vouches for
                    # the leaf as logged, and the chain for the entry's links.
                    hashes.append(bytes(stored.get(lf.idx, b"")))
                    continue
                data = audit_leaf(_entry_row(entry)).data if entry else None
            else:
                claims = records.get(lf.idx)
                data = canonical(json.loads(claims)) if claims else None
                what = f"evidence record {lf.idx} (item {lf.item_id})"
            if data is None:
                problems.append(f"{what} deleted (log leaf {lf.idx})")
                hashes.append(bytes(stored.get(lf.idx, b"")))
                continue
            h = leaf_hash(data)
            if bytes(stored.get(lf.idx, b"")) != h:
                problems.append(f"{what} modified after it was logged (log leaf {lf.idx})")
            hashes.append(h)
        frontier.append(hashes)
    if frontier.root() != signed.root:
        problems.append(f"the log's content does not match its signed checkpoint of "
                        f"{signed.size} leaves ({signed.time.isoformat()}): history rewritten")
    at_head = session.get(AuditEntry, signed.audit_seq) if signed.audit_seq else None
    if signed.audit_seq and (at_head is None or at_head.hash != signed.audit_hash):
        problems.append(f"audit entry {signed.audit_seq} is not the one the checkpoint of "
                        f"{signed.time.isoformat()} signed: the chain was rewritten")
    unlogged = next((seq for seq in range(1, (signed.audit_seq or 0) + 1)
                     if seq not in logged_seqs), None)
    if unlogged is not None:
        problems.append(f"audit entry {unlogged} is not in the log")
    return problems
