"""Each organisation's feed: an append-only, ordered list of delivered envelopes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime, utcnow


class FeedHead(Base):
    """The last sequence number given in an organisation's feed; its row lock orders appends."""

    __tablename__ = "feed_heads"

    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)


class FeedItem(Base):
    __tablename__ = "feed_items"
    __table_args__ = (UniqueConstraint("org_id", "message_id"),)

    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    message_id: Mapped[str] = mapped_column(String(128))
    item_id: Mapped[str] = mapped_column(String(64), index=True)
    event_type: Mapped[str] = mapped_column(String(128))
    envelope: Mapped[str] = mapped_column(Text)
    delivered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
