"""Delivery: every exchange's messages go to their recipient organisation's feed."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from schemas.envelope import Envelope
from services.config import Settings
from services.db import utcnow
from services.exchanges.models import Item
from services.exchanges.registry import EXCHANGES
from services.exchanges.service import redacted_data
from services.feed import service as feed
from services.messaging.topics import exchange_topic
from services.metrics import DELIVERY_LATENCY

from .framework import ConsumerSpec


def deliver(session: Session, envelope: Envelope) -> None:
    now = utcnow()
    exchange = EXCHANGES.get(envelope.exchange)
    if exchange is not None and envelope.event in exchange.erasing_events:
        # Earlier copies in every feed keep only proof; this message tells the
        # recipient to delete its own copies.
        feed.redact_item(session, envelope.subject, redacted_data)
    if feed.append(session, envelope, now) is None:
        return
    if envelope.event == "submitted":
        session.execute(update(Item).where(Item.id == envelope.subject,
                                           Item.delivered_at.is_(None))
                        .values(delivered_at=now))
        if exchange is not None and exchange.delivered_state:
            session.execute(update(Item).where(Item.id == envelope.subject,
                                               Item.status == exchange.initial_state)
                            .values(status=exchange.delivered_state))
    DELIVERY_LATENCY.labels(envelope.exchange).observe(
        max(0.0, (now - envelope.time).total_seconds()))


def delivery_spec(settings: Settings) -> ConsumerSpec:
    return ConsumerSpec(
        group=f"{settings.topic_prefix}delivery",
        topics=[exchange_topic(settings, e.topic_name) for e in EXCHANGES.values()],
        handler=deliver,
    )
