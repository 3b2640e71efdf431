"""Delivery: every exchange's messages go to their recipient organisation's feed.

Each lane has its own topics and consumer group, so a backlog in the standard lane
never delays the priority lane."""

from __future__ import annotations

import functools

from sqlalchemy import update
from sqlalchemy.orm import Session

from schemas.envelope import Envelope
from services.config import Settings
from services.db import utcnow
from services.evidence.service import Signer
from services.exchanges.models import Item
from services.exchanges.registry import EXCHANGES, lanes, topics
from services.exchanges.service import redact_outbox, redacted_data
from services.feed import service as feed
from services.metrics import DELIVERY_LATENCY

from .framework import ConsumerSpec


def deliver(session: Session, envelope: Envelope, settings: Settings, signer: Signer,
            lane: str = "standard") -> None:
    now = utcnow()
    exchange = EXCHANGES.get(envelope.exchange)
    if exchange is not None and envelope.event in exchange.erasing_events:
        # Earlier copies in every feed keep only proof; this message tells the
        # recipient to delete its own copies.
        feed.redact_item(session, envelope.subject, redacted_data)
        redact_outbox(session, envelope.subject)
    if feed.append(session, settings, envelope, now) is None:
        return
    if envelope.event == "submitted":
        session.execute(update(Item).where(Item.id == envelope.subject,
                                           Item.delivered_at.is_(None))
                        .values(delivered_at=now))
        if exchange is not None and exchange.delivered_state:
            session.execute(update(Item).where(Item.id == envelope.subject,
                                               Item.status == exchange.initial_state)
                            .values(status=exchange.delivered_state))
        item = session.get(Item, envelope.subject)
        if item is not None:
            signer.sign(session, item, "delivered", now)
    DELIVERY_LATENCY.labels(envelope.exchange, lane).observe(
        max(0.0, (now - envelope.time).total_seconds()))


def delivery_specs(settings: Settings, signer: Signer,
                   only: set[str] | None = None) -> list[ConsumerSpec]:
    """One consumer group per lane (all lanes, or `only` those): <prefix>delivery,
    <prefix>delivery.<lane>."""
    specs = []
    for lane in lanes():
        if only is not None and lane not in only:
            continue
        suffix = "" if lane == "standard" else f".{lane}"
        specs.append(ConsumerSpec(group=f"{settings.topic_prefix}delivery{suffix}",
                                  topics=topics(settings, lane),
                                  handler=functools.partial(deliver, settings=settings,
                                                            signer=signer, lane=lane)))
    return specs
