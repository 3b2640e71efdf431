"""Evidence records, one per step of an item, and the sealed groups they belong to;
append-only."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime
from ..messaging.models import BigId


class EvidenceBatch(Base):
    """The records committed together: a Merkle tree whose signed root (a compact JWS,
    `typ: vigie-evidence-batch+jwt`) vouches for every leaf."""

    __tablename__ = "evidence_batches"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    root: Mapped[str] = mapped_column(String(64))
    jws: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Evidence(Base):
    __tablename__ = "evidence"
    __table_args__ = (Index("ix_evidence_item_step", "item_id", "step"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    item_id: Mapped[str] = mapped_column(ForeignKey("items.id"), index=True)
    step: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Records of the first design carry a JWS each; sealed ones their claims and proof.
    jws: Mapped[str | None] = mapped_column(Text)
    claims: Mapped[str | None] = mapped_column(Text)
    batch_id: Mapped[str | None] = mapped_column(ForeignKey("evidence_batches.id"))
    leaf_index: Mapped[int | None] = mapped_column(Integer)
    proof: Mapped[str | None] = mapped_column(Text)
