"""Appending to and reading from feeds. Appends take the feed head's row lock, so
sequence numbers commit in order and a reader's cursor never skips an item."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from schemas.envelope import Envelope

from ..config import Settings
from ..db import utcnow
from ..messaging.models import OutboxMessage
from ..messaging.topics import feed_topic
from ..metrics import DELIVERIES
from ..webhooks import service as webhooks
from .models import FeedHead, FeedItem


def append(session: Session, settings: Settings, envelope: Envelope,
           now: datetime | None = None) -> FeedItem | None:
    """Append to the recipient's feed, and (through the outbox, in the same order) to its
    own Kafka topic; None when this message is there already."""
    org_id = envelope.recipientorg
    exists = session.scalar(select(FeedItem.seq).where(
        FeedItem.org_id == org_id, FeedItem.message_id == envelope.id))
    if exists is not None:
        return None
    seq = session.scalar(_next_seq(session, org_id))
    item = FeedItem(org_id=org_id, seq=seq, message_id=envelope.id, item_id=envelope.subject,
                    event_type=envelope.type, envelope=envelope.to_json().decode(),
                    delivered_at=now or utcnow())
    session.add(item)
    session.flush()
    webhooks.enqueue(session, item)
    DELIVERIES.labels("feed", "delivered").inc()
    # One partition keeps the feed's order; keyed by item so an erasure finds it.
    session.add(OutboxMessage(message_id=f"feed:{org_id}:{seq}",
                              topic=feed_topic(settings, org_id), key=envelope.subject,
                              payload=json.dumps(to_resource(item), ensure_ascii=False)))
    return item


def _next_seq(session: Session, org_id: str):
    """The organisation's next feed position, atomically: consumers of several lanes may
    append the first item of a feed at the same time (an upsert, never a lost race)."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = insert(FeedHead).values(org_id=org_id, last_seq=1)
    return stmt.on_conflict_do_update(
        index_elements=[FeedHead.org_id],
        set_={"last_seq": FeedHead.last_seq + 1}).returning(FeedHead.last_seq)


def read(session: Session, org_id: str, after: int, limit: int) -> list[FeedItem]:
    return list(session.scalars(
        select(FeedItem).where(FeedItem.org_id == org_id, FeedItem.seq > after)
        .order_by(FeedItem.seq).limit(limit)))


def to_resource(item: FeedItem) -> dict:
    return {"cursor": str(item.seq), "delivered_at": item.delivered_at.isoformat(),
            "event": json.loads(item.envelope)}


def redact_item(session: Session, item_id: str, redact) -> int:
    """Replace the data of every feed copy of an item's messages (any organisation's feed)
    with what `redact(item_id, data)` keeps; returns how many were rewritten."""
    count = 0
    for entry in session.scalars(select(FeedItem).where(FeedItem.item_id == item_id)):
        wire = json.loads(entry.envelope)
        if wire["data"].get("redacted") or wire["data"].get("erase"):
            continue
        wire["data"] = redact(item_id, wire["data"])
        entry.envelope = json.dumps(wire, ensure_ascii=False, separators=(",", ":"))
        count += 1
    return count
