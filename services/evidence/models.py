"""Evidence records, one per step of an item, each a leaf of the verifiable log;
append-only (database triggers)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime
from ..messaging.models import BigId


class Evidence(Base):
    __tablename__ = "evidence"
    __table_args__ = (Index("ix_evidence_item_step", "item_id", "step"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    item_id: Mapped[str] = mapped_column(ForeignKey("items.id"), index=True)
    step: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The leaf is the canonical JSON of these claims (keys sorted, no spaces).
    claims: Mapped[str] = mapped_column(Text)
    log_index: Mapped[int] = mapped_column(BigInteger, unique=True)
