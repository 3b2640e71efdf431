"""The hash-chained audit log: what an entry holds and how the chain is verified. Entries
are appended by the write path (services.writes), in the transaction of what they record."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import GENESIS, AuditEntry, AuditHead


@dataclass(frozen=True)
class Event:
    at: datetime
    client_id: str
    org_id: str
    action: str
    object: str
    legal_basis: str
    outcome: int
    agent: str | None = None
    purpose: str | None = None
    # The request's id (X-Request-Id, or the hub's), to follow it across systems.
    request_id: str | None = None


# What a retention purge empties: who (system and person) consulted what, and why.
PERSONAL = ("client_id", "object", "agent", "purpose", "request_id")


def entry_hash(prev_hash: str, seq: int, event: Event | AuditEntry) -> str:
    fields = {"seq": seq, "at": event.at.isoformat(), "client_id": event.client_id,
              "org_id": event.org_id, "action": event.action, "object": event.object,
              "legal_basis": event.legal_basis, "outcome": event.outcome}
    # Hashed only when given: entries written before they existed keep their hash.
    for name in ("agent", "purpose", "request_id"):
        if getattr(event, name, None) is not None:
            fields[name] = getattr(event, name)
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(f"{prev_hash}\n{canonical}".encode()).hexdigest()


def fields(event: Event) -> dict:
    """The entry's columns, without its place in the chain."""
    return {"at": event.at, "client_id": event.client_id, "org_id": event.org_id,
            "action": event.action, "object": event.object,
            "legal_basis": event.legal_basis, "outcome": event.outcome,
            "agent": event.agent, "purpose": event.purpose, "request_id": event.request_id,
            "purged": False}


def verify(session: Session) -> tuple[int, list[str]]:
    """Walk the chain; returns the number of entries and one line per problem: a modified
    entry, a deleted one, entries moved out of order, a truncated end. An entry purged
    under the audit retention cannot be rehashed: it holds by its links (its hash is the
    next entry's link, and the signed log's leaf), and only the oldest entries may be."""
    problems: list[str] = []
    entries = list(session.scalars(select(AuditEntry).order_by(AuditEntry.seq)))
    # The original position of each entry, following the hash links from the start.
    following = {e.prev_hash: e for e in entries}
    original: dict[str, int] = {}
    link, position = GENESIS, 1
    while link in following and _holds(link, position, following[link]):
        original[following[link].hash] = position
        link, position = following[link].hash, position + 1
    expected_seq, prev, prev_moved = 1, GENESIS, False
    kept_before: int | None = None
    for e in entries:
        moved = False
        if e.seq != expected_seq:
            missing = (f"entry {expected_seq}" if e.seq == expected_seq + 1
                       else f"entries {expected_seq}-{e.seq - 1}")
            problems.append(f"{missing} deleted")
        if original.get(e.hash, e.seq) != e.seq:
            moved = True
            problems.append(f"entry {original[e.hash]} reordered (now at position {e.seq})")
        elif not _holds(e.prev_hash, e.seq, e):
            problems.append(f"entry {e.seq} modified")
        elif e.purged and kept_before:
            problems.append(f"entry {e.seq} purged after entry {kept_before}, which is kept: "
                            "the retention purges the oldest entries only")
        elif e.prev_hash != prev and e.seq == expected_seq and not prev_moved:
            problems.append(f"entry {e.seq} does not follow entry {e.seq - 1}")
        expected_seq, prev, prev_moved = e.seq + 1, e.hash, moved
        kept_before = kept_before or (None if e.purged else e.seq)
    head = session.get(AuditHead, 1)
    if head is not None and head.last_seq >= expected_seq:
        problems.append(f"entries {expected_seq}-{head.last_seq} deleted at the end")
    return len(entries), problems


def _holds(prev_hash: str, seq: int, e: AuditEntry) -> bool:
    """The entry's hash is its content's, or (purged) it keeps its link to the previous."""
    if e.purged:
        return e.prev_hash == prev_hash
    return entry_hash(prev_hash, seq, e) == e.hash


def to_resource(e: AuditEntry) -> dict:
    return {"seq": e.seq, "at": e.at.isoformat(), "client_id": e.client_id, "org": e.org_id,
            "action": e.action, "object": e.object, "legal_basis": e.legal_basis,
            "outcome": e.outcome, "agent": e.agent, "purpose": e.purpose,
            "request_id": e.request_id, "purged": bool(e.purged), "prev_hash": e.prev_hash,
            "hash": e.hash}
