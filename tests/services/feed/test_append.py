"""Appending to a feed: positions are gapless and unique even when the consumers of
several lanes append the first items of a new organisation's feed at the same time."""

from __future__ import annotations

import threading
import uuid

from schemas.envelope import Envelope
from services.db import utcnow
from services.feed import service as feed
from services.feed.models import FeedItem
from services.organisations.service import add_organisation


def _envelope(org_id: str) -> Envelope:
    item = str(uuid.uuid4())
    return Envelope(id=str(uuid.uuid4()), type="fr.gouv.vigie.content-notices.submitted",
                    source="/v1/content-notices", subject=item, senderorg="unadfi",
                    recipientorg=org_id, correlationid=item, time=utcnow(), data={"x": 1})


def test_concurrent_first_appends_get_distinct_positions(stack):
    org_id = f"plateforme-{uuid.uuid4().hex[:8]}"
    with stack.hub.db.transaction() as session:
        add_organisation(session, org_id, "platform", "Plateforme neuve", None, "Neuve SAS")
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def lane():
        try:
            barrier.wait()
            for _ in range(5):
                with stack.hub.db.transaction() as session:
                    feed.append(session, stack.settings, _envelope(org_id))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion
            errors.append(exc)

    threads = [threading.Thread(target=lane) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with stack.hub.db.sessions() as session:
        seqs = sorted(session.scalars(
            FeedItem.__table__.select().with_only_columns(FeedItem.seq)
            .where(FeedItem.org_id == org_id)))
    assert seqs == list(range(1, 21))
