"""What the relay and the topic eraser keep about the recipients' topics."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime, utcnow

BigId = BigInteger().with_variant(Integer(), "sqlite")


class TopicPosition(Base):
    """How far a recipient's feed is on its Kafka topic: every entry up to `published_seq`
    is there (the feed is the outbox: the relay publishes the entries after it, in order)."""

    __tablename__ = "topic_positions"

    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    published_seq: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


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
