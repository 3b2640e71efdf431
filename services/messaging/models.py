"""The transactional outbox."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime, utcnow

BigId = BigInteger().with_variant(Integer(), "sqlite")


class OutboxMessage(Base):
    """A message committed with the state change that caused it, relayed to Kafka later."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(String(128), unique=True)
    topic: Mapped[str] = mapped_column(String(200))
    key: Mapped[str] = mapped_column(String(200), index=True)
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)


class TopicErasure(Base):
    """Records of an erased item still on a recipient's topic (Kafka cannot rewrite them):
    deleted once every consumer group of the recipient has read past them, or dropped by
    the topic's retention, whichever comes first."""

    __tablename__ = "topic_erasures"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    topic: Mapped[str] = mapped_column(String(200), index=True)
    org_id: Mapped[str] = mapped_column(String(64))
    # The item's last record there: its feed position (its offset + 1) and message id.
    position: Mapped[int] = mapped_column(BigInteger)
    message_id: Mapped[str] = mapped_column(String(128))
    erased_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    outcome: Mapped[str | None] = mapped_column(String(16))  # deleted | expired
