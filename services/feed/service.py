"""Reading feeds. Entries are appended by the write path (services.writes) in the
transaction that creates what they announce, positions taken from the feed head's row
lock, so positions commit in order and a reader's cursor never skips an entry."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from ..writes.group import feed_text
from .models import FeedItem

FEED = FeedItem.__table__


def read(session: Connection, org_id: str, after: int, limit: int) -> list[Any]:
    """One query per page."""
    return session.execute(
        select(FEED.c.seq, FEED.c.item_id, FEED.c.event_type, FEED.c.envelope,
               FEED.c.delivered_at)
        .where(FEED.c.org_id == org_id, FEED.c.seq > after)
        .order_by(FEED.c.seq).limit(limit)).all()


def page_text(rows: list[Any], after: str) -> str:
    """The page as JSON text, the stored envelopes spliced in as they are."""
    items = ",".join(feed_text(r.seq, r.delivered_at.isoformat(), r.envelope) for r in rows)
    cursor = str(rows[-1].seq) if rows else after
    return f'{{"items":[{items}],"next":"{cursor}"}}'
