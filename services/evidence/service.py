"""Evidence records: what each step of an item proves, as leaves of the verifiable log.

A record's claims bind the item, the exchange, the step, the digests of the message and
of the step, the sender, the recipient and the time. The write path appends the records a
group commits to the log (services.verifiable_log) and signs one checkpoint for the
group; each record proves its place in the latest checkpoint with an inclusion proof, and
a bundle of them verifies offline against the hub's pinned checkpoint keys
(services/verifiable_log/verifier.py), never against a key the bundle carries."""

from __future__ import annotations

import json
import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session

from ..verifiable_log import service as vlog
from ..verifiable_log.keys import key_set
from ..verifiable_log.verifier import BUNDLE_FORMAT
from .models import Evidence

STEPS = ("submitted", "delivered", "retrieved", "rejected")
ONCE_STEPS = ("retrieved",)             # recorded at most once per item


def make_claims(issuer: str, item_id: str, exchange: str, sender: str, recipient: str,
                step: str, at: datetime, message_digest: str,
                step_digest: str | None = None, detail: str | None = None,
                basis: str | None = None, agent: str | None = None) -> dict[str, Any]:
    """`basis`: the legal reference in force at `at` under which the step was taken;
    `agent`: the person who took it, when known ("<id> (<name>)")."""
    claims: dict[str, Any] = {
        "iss": issuer, "jti": secrets.token_urlsafe(12), "iat": int(at.timestamp()),
        "item": item_id, "exchange": exchange, "step": step, "at": at.isoformat(),
        "message_digest": message_digest, "sender": sender, "recipient": recipient,
    }
    if basis:
        claims["basis"] = basis
    if step_digest:
        claims["step_digest"] = step_digest
    if detail:
        claims["detail"] = detail
    if agent:
        claims["agent"] = agent
    return claims


def without_step(session: Session, item_ids: list[str], step: str) -> list[str]:
    """Those of the items that have no evidence of `step` yet (one query)."""
    done = set(session.scalars(select(Evidence.item_id).where(
        Evidence.item_id.in_(item_ids), Evidence.step == step)))
    return [i for i in dict.fromkeys(item_ids) if i not in done]


def count_step(session: Session | Connection, item_id: str, step: str) -> int:
    return session.execute(select(func.count()).select_from(Evidence).where(
        Evidence.item_id == item_id, Evidence.step == step)).scalar_one()


def listing(session: Session, item_id: str, after: int = -1,
            limit: int | None = None) -> dict[str, Any]:
    """An item's records, oldest first (those after leaf `after`, at most `limit`), each
    with its inclusion proof into the latest checkpoint (given beside them); `next` is
    the `after` of the following page, or None."""
    conn = session.connection()
    query = (select(Evidence.step, Evidence.at, Evidence.claims, Evidence.log_index)
             .where(Evidence.item_id == item_id, Evidence.log_index > after)
             .order_by(Evidence.log_index))
    rows = session.execute(query if limit is None else query.limit(limit + 1)).all()
    more = limit is not None and len(rows) > limit
    rows = rows[:limit] if more else rows
    checkpoint = vlog.latest(conn)
    proven = [index for *_, index in rows if checkpoint is not None and index < checkpoint.size]
    proofs = dict(zip(proven, vlog.inclusions(conn, proven, checkpoint.size)
                      if proven else [], strict=True))
    records = []
    for step, at, claims, index in rows:
        record: dict[str, Any] = {"step": step, "at": at.isoformat(),
                                  "claims": json.loads(claims), "leaf_index": index}
        if index in proofs:
            record["inclusion"] = proofs[index]
        records.append(record)
    return {"item": item_id, "evidence": records,
            "checkpoint": vlog.checkpoint_resource(checkpoint) if checkpoint else None,
            "next": records[-1]["leaf_index"] if more else None}


def export(session: Session, item_id: str, origin: str, issuer: str) -> dict:
    """A bundle that verifies offline: the item's records with their proofs, the
    checkpoint they lead to, and the hub's key history (for display and for
    fingerprint pinning: the verifier trusts only keys pinned apart)."""
    from ..exchanges.models import Item

    item = session.get(Item, item_id)
    if item is None:
        raise LookupError(f"no item {item_id!r}")
    listed = listing(session, item_id)
    if listed["checkpoint"] is None:
        raise LookupError("the log has no checkpoint yet")
    records = listed["evidence"]
    digest = records[0]["claims"]["message_digest"] if records else None
    return {"format": BUNDLE_FORMAT, "item": item.id, "exchange": item.exchange,
            "message_digest": digest,
            "records": [{"claims": r["claims"], "leaf_index": r["leaf_index"],
                         "inclusion": r.get("inclusion", [])} for r in records],
            "checkpoint": listed["checkpoint"]["note"],
            "keys": key_set(session, origin, issuer)}
