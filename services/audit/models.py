"""Audit entries (append-only: database triggers refuse deletes, and every update but the
retention purge of an entry's personal fields) and the head of the chain, whose row lock
orders appends."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Integer, String, false
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime

GENESIS = "sha256:" + "0" * 64


class AuditEntry(Base):
    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    client_id: Mapped[str] = mapped_column(String(64))
    org_id: Mapped[str] = mapped_column(String(64), index=True)
    action: Mapped[str] = mapped_column(String(128))
    object: Mapped[str] = mapped_column(String(300))
    legal_basis: Mapped[str] = mapped_column(String(100))
    outcome: Mapped[int] = mapped_column(Integer)
    prev_hash: Mapped[str] = mapped_column(String(80))
    hash: Mapped[str] = mapped_column(String(80))
    # The person behind the request as the calling system declares it, and the purpose
    # stated for a consultation (None when not given).
    agent: Mapped[str | None] = mapped_column(String(128), nullable=True)
    purpose: Mapped[str | None] = mapped_column(String(200), nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    # Past the audit retention, the fields naming who consulted what are emptied; the
    # entry's place, time, links and hash stay (the chain and the log still verify).
    purged: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class AuditHead(Base):
    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    last_hash: Mapped[str] = mapped_column(String(80))
