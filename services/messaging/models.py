"""The transactional outbox, and what consumers have already processed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String, Text, UniqueConstraint
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


class ProcessedMessage(Base):
    """A message a consumer group has handled: a redelivered duplicate is skipped."""

    __tablename__ = "processed_messages"
    __table_args__ = (UniqueConstraint("consumer_group", "message_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    consumer_group: Mapped[str] = mapped_column(String(200))
    message_id: Mapped[str] = mapped_column(String(128))
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ConsumerReject(Base):
    """A record that could not be decoded or handled, kept for an operator to inspect."""

    __tablename__ = "consumer_rejects"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    consumer_group: Mapped[str] = mapped_column(String(200))
    topic: Mapped[str] = mapped_column(String(200))
    partition: Mapped[int] = mapped_column(Integer)
    offset: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text)
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
