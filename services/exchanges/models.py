"""Items of every exchange (one table: the exchange names the kind) and their steps."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Base, UTCDateTime, utcnow
from ..messaging.models import BigId


class Item(Base):
    __tablename__ = "items"
    __table_args__ = (
        Index("ix_items_sender", "exchange", "sender_org", "created_at"),
        Index("ix_items_recipient", "exchange", "recipient_org", "created_at"),
        Index("ix_items_open_due", "exchange", "status", "due_at"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    exchange: Mapped[str] = mapped_column(String(64))
    sender_org: Mapped[str] = mapped_column(ForeignKey("organisations.id"))
    recipient_org: Mapped[str] = mapped_column(ForeignKey("organisations.id"))
    submitted_by: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32))
    content: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)
    lane: Mapped[str] = mapped_column(String(16), default="standard", server_default="standard")

    steps: Mapped[list[ItemStep]] = relationship(
        back_populates="item", order_by="ItemStep.id", lazy="selectin")


class ItemKey(Base):
    """A lookup key of an item (e.g. a normalised URL), to link duplicates."""

    __tablename__ = "item_keys"
    __table_args__ = (Index("ix_item_keys_lookup", "exchange", "recipient_org", "key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    item_id: Mapped[str] = mapped_column(ForeignKey("items.id"), index=True)
    exchange: Mapped[str] = mapped_column(String(64))
    recipient_org: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(512))


class ItemStep(Base):
    """One lifecycle step (acknowledgement, answer, withdrawal...), kept as sent."""

    __tablename__ = "item_steps"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    item_id: Mapped[str] = mapped_column(ForeignKey("items.id"), index=True)
    action: Mapped[str] = mapped_column(String(32))
    actor_org: Mapped[str] = mapped_column(String(64))
    actor_client: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    message_id: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    item: Mapped[Item] = relationship(back_populates="steps")


class ItemIdentities(Base):
    """The identities a pseudonymised item names (its content holds only pseudonyms),
    kept apart and sealed under the data keys, bound to the item; deleted by its erasure."""

    __tablename__ = "item_identities"

    item_id: Mapped[str] = mapped_column(ForeignKey("items.id"), primary_key=True)
    sealed: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ItemFact(Base):
    """A category an item or one of its steps is counted under in the statistics (a
    profession, a NATINF code, an outcome, a deadline met): no personal data, so that
    it outlives the item's erasure."""

    __tablename__ = "item_facts"
    __table_args__ = (Index("ix_item_facts_name", "name", "item_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    item_id: Mapped[str] = mapped_column(ForeignKey("items.id"), index=True)
    name: Mapped[str] = mapped_column(String(32))
    value: Mapped[str] = mapped_column(String(200))
