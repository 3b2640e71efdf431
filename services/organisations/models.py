"""Organisations and their OAuth2 clients."""

from __future__ import annotations

import secrets
from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Base, UTCDateTime, utcnow

ORG_TYPES = (
    "court", "prosecution", "state_service", "health_order",
    "platform", "regulator", "trusted_flagger", "operator",
    # Associations approved by the State (multi-year agreements) that pass on to
    # Miviludes the signalements they receive.
    "association",
)


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    type: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    profession: Mapped[str | None] = mapped_column(String(64))
    legal_entity: Mapped[str | None] = mapped_column(String(200))
    # Courts and prosecution offices: the jurisdiction they act for (e.g. TJ-PARIS for the
    # tribunal and the parquet of Paris); what they may declare as their court.
    jurisdiction: Mapped[str | None] = mapped_column(String(20))
    jurisdiction_name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    clients: Mapped[list[Client]] = relationship(back_populates="organisation")


class Client(Base):
    __tablename__ = "clients"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    scopes: Mapped[str] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    organisation: Mapped[Organisation] = relationship(back_populates="clients", lazy="joined")
    secrets: Mapped[list[ClientSecret]] = relationship(
        back_populates="client", lazy="selectin", cascade="all, delete-orphan",
        order_by="ClientSecret.created_at")
    keys: Mapped[list[ClientKey]] = relationship(
        back_populates="client", lazy="selectin", cascade="all, delete-orphan",
        order_by="ClientKey.created_at")

    @property
    def scope_set(self) -> frozenset[str]:
        return frozenset(self.scopes.split())


class ClientSecret(Base):
    """One of a client's secrets (scrypt, never in clear). Two may be valid at once, so
    that a client rotates without downtime: it adds the new one, deploys it, revokes the
    old one."""

    __tablename__ = "client_secrets"

    # Random, not a sequence: another client's secrets cannot be counted or guessed.
    id: Mapped[str] = mapped_column(String(32), primary_key=True,
                                    default=lambda: "cs_" + secrets.token_hex(8))
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.client_id"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    client: Mapped[Client] = relationship(back_populates="secrets")


class ClientKey(Base):
    """A client's public key (a JWK): it signs its token requests (`private_key_jwt`, RFC
    7523) with the private key, which never leaves its system. Two at once, to rotate."""

    __tablename__ = "client_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True,
                                    default=lambda: "ck_" + secrets.token_hex(8))
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.client_id"), index=True)
    # The public JWK as registered (JSON), and its RFC 7638 thumbprint (its `kid`).
    jwk: Mapped[str] = mapped_column(Text)
    thumbprint: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    client: Mapped[Client] = relationship(back_populates="keys")


class ClientAssertion(Base):
    """A `private_key_jwt` assertion's `jti`, kept until the assertion expires: the same
    assertion presented twice is refused (RFC 7523 §3, replay), in every API process."""

    __tablename__ = "client_assertions"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    jti: Mapped[str] = mapped_column(String(200), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class TrustedFlaggerStatus(Base):
    """A trusted flagger's status as the Digital Services Coordinator decided it (DSA art.
    22): awarded for some areas, suspended or revoked, each from a date. The history is
    kept; the status in force on a day is the latest one effective by then."""

    __tablename__ = "trusted_flagger_statuses"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))  # awarded | suspended | revoked
    # The content-notice categories the award covers (space-separated).
    areas: Mapped[str] = mapped_column(Text, default="")
    effective_from: Mapped[date] = mapped_column(Date)
    decision_reference: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
