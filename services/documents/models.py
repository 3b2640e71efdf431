"""A document's record: what it is (digest, size, type), who uploaded it, which item
carries it, and the key its bytes are encrypted with — until it is destroyed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime


class Document(Base):
    __tablename__ = "documents"
    __table_args__ = (
        Index("ix_documents_item", "item_id"),
        Index("ix_documents_expires", "expires_at"),
        Index("ix_documents_destroyed", "destroyed_at", "object_deleted_at"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"))
    uploaded_by: Mapped[str] = mapped_column(String(64))
    title: Mapped[str | None] = mapped_column(String(200))
    media_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    # The digest of the bytes as uploaded (hex SHA-256): the ETag, bound in the evidence.
    sha256: Mapped[str] = mapped_column(String(64))
    # Where the encrypted bytes are (the digest of what is stored), and the document's own
    # key sealed by the hub's data key; both emptied when the document is destroyed.
    object_name: Mapped[str] = mapped_column(String(128))
    sealed_key: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # An upload never referenced is destroyed after this instant (None once referenced).
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    item_id: Mapped[str | None] = mapped_column(String(64))
    # The first download by the party that did not upload it (evidence recorded once).
    retrieved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    destroyed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    destroyed_reason: Mapped[str | None] = mapped_column(String(32))
    object_deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
