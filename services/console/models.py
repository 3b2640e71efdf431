"""The people who use the console: each agent belongs to one organisation and holds
roles there; their drafts, and where each organisation's e-mail notices stand."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime

# What each role lets an agent do in the console (an agent holds one or more).
ROLES = ("reader", "drafter", "signatory", "administrator")


class Agent(Base):
    """An agent known to the hub by the identity provider's subject (`sub`): the IdP
    proves who signs in, the hub's registry says for which organisation and with which
    roles — as ProConnect authenticates agents whose rights each service keeps."""

    __tablename__ = "agents"
    __table_args__ = (Index("ix_agents_org", "org_id"),)

    sub: Mapped[str] = mapped_column(String(128), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"))
    username: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    roles: Mapped[str] = mapped_column(String(128))          # space-separated ROLES
    notify: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Signing out ends every session of the agent opened before (a copied cookie too).
    signed_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def role_set(self) -> frozenset[str]:
        return frozenset(self.roles.split())


class Draft(Base):
    """A submission or step prepared by a drafter, sent (or discarded) by a signatory."""

    __tablename__ = "agent_drafts"
    __table_args__ = (Index("ix_agent_drafts_org", "org_id", "sent_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"))
    exchange: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    item_id: Mapped[str | None] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    author_sub: Mapped[str] = mapped_column(String(128))
    author_name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class NoticeCursor(Base):
    """Where an organisation's e-mail notices stand: the last feed entry told, and the
    last time items falling due were looked for."""

    __tablename__ = "agent_notice_cursors"

    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    feed_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    due_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
