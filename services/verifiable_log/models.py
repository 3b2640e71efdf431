"""The verifiable log's tables. All append-only (database triggers, and on PostgreSQL a
hub role without the right to drop them) except the head, whose row lock orders appends
and whose content every checkpoint vouches for."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, LargeBinary, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime


class LogLeaf(Base):
    """What a leaf is: an evidence record (of an item, seen by its two parties) or an audit
    entry (of an organisation)."""

    __tablename__ = "log_leaves"
    __table_args__ = (Index("ix_log_leaves_ref", "kind", "ref"),)

    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(16))           # evidence | audit
    ref: Mapped[int | None] = mapped_column(BigInteger)     # audit_log.seq
    item_id: Mapped[str | None] = mapped_column(String(64), index=True)
    org_id: Mapped[str | None] = mapped_column(String(64))


class LogNode(Base):
    """A complete perfect subtree: (level, index) covers leaves [index·2^level,
    (index+1)·2^level); level 0 is the leaf hash."""

    __tablename__ = "log_nodes"

    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class LogHead(Base):
    """The size of the log and its frontier (the perfect subtrees covering it)."""

    __tablename__ = "log_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    frontier: Mapped[str] = mapped_column(Text)             # JSON [[level, index, hex]]


class Checkpoint(Base):
    """A signed tree head (C2SP signed note), one per committed group."""

    __tablename__ = "log_checkpoints"

    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    audit_seq: Mapped[int] = mapped_column(BigInteger)
    audit_hash: Mapped[str] = mapped_column(String(80))
    key_id: Mapped[str] = mapped_column(String(8))
    note: Mapped[str] = mapped_column(Text)


class LogKey(Base):
    """The public half of every key that ever signed checkpoints, with the window in which
    it may sign: archived forever, whether the private key lives in the database (dev) or
    in a mounted secret (production)."""

    __tablename__ = "log_keys"

    key_id: Mapped[str] = mapped_column(String(8), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    public_key: Mapped[str] = mapped_column(String(64))     # base64, raw Ed25519
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime)
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LogSigningKey(Base):
    """A private checkpoint key kept in the database (development and tests; production
    mounts them from a secret: VIGIE_LOG_KEYS_FILE). Never the access-token key."""

    __tablename__ = "log_signing_keys"

    key_id: Mapped[str] = mapped_column(String(8), primary_key=True)
    private_key: Mapped[str] = mapped_column(String(64))    # base64, raw Ed25519 seed
    state: Mapped[str] = mapped_column(String(16))          # active | retired
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime)
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
