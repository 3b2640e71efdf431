"""The purge job: closed items past their retention lose their personal data, through
the write path like any other change (the erasure and its audit entry commit together)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.engine import Connection

from ..audit.models import AuditEntry
from ..audit.service import PERSONAL, Event
from ..config import Settings
from ..db import Database
from ..documents import service as documents
from ..documents.storage import Storage
from ..exchanges.definition import Exchange
from ..exchanges.models import Item
from ..exchanges.registry import EXCHANGES
from ..exchanges.service import erasure
from ..writes import wire
from ..writes.group import Conflict, GroupWriter, Write


def retention_groups(settings: Settings,
                     exchange: Exchange) -> list[tuple[list[str], timedelta]]:
    """The states an exchange's items are purged from, with how long each is kept: the
    exchange's retention, and the states it keeps for another time."""
    states = set(exchange.retention_states or exchange.closed_states)
    groups = []
    for state, default in exchange.retention_by_state.items():
        states.discard(state)
        keep = settings.deadline(f"{exchange.name}.retention.{state}", default)
        if keep is not None:
            groups.append(([state], keep))
    keep = settings.deadline(f"{exchange.name}.retention", exchange.retention)
    if keep is not None and states:
        groups.append((sorted(states), keep))
    return groups


def purge(db: Database, writer: GroupWriter, settings: Settings,
          now: datetime) -> dict[str, int]:
    """Purge every closed item past its retention; returns how many per exchange."""
    purged: dict[str, int] = {}
    for name, exchange in EXCHANGES.items():
        due = []
        for states, keep in retention_groups(settings, exchange):
            with db.sessions() as session:
                due += session.scalars(select(Item.id).where(
                    Item.exchange == name, Item.status.in_(states),
                    Item.updated_at < now - keep))
        count = 0
        for item_id in due:
            with db.sessions() as session:
                write = erasure(session, settings, exchange, item_id)
            if write is None:
                continue  # erased already
            write.audit = Event(
                at=now, client_id="vigie-retention", org_id="-", action="PURGE retention",
                object=f"/v1/{name}/{item_id}", legal_basis=exchange.legal_basis(now),
                outcome=200)
            try:
                writer.commit(write)
            except Conflict:
                continue  # a step changed it meanwhile; the next run takes it
            count += 1
        purged[name] = count
    return purged


# The CNIL recommends keeping access logs six months to a year; configurable as
# VIGIE_DEADLINE_AUDIT_RETENTION (a duration, e.g. 180d).
AUDIT_RETENTION = timedelta(days=365)


@dataclass(frozen=True)
class AuditPurge:
    """Empty the personal fields of the audit entries up to `through_seq` (the only update
    the database's trigger lets through); each keeps its place, time, organisation,
    action, outcome, links and hash, so the chain and the signed log still verify."""

    through_seq: int

    def __call__(self, conn: Connection) -> None:
        conn.execute(update(AuditEntry).where(AuditEntry.seq <= self.through_seq,
                                              AuditEntry.purged.is_(False))
                     .values(purged=True, **{name: "" if name in ("client_id", "object")
                                             else None for name in PERSONAL}))


wire.allow(AuditPurge)


def purge_audit(db: Database, writer: GroupWriter, settings: Settings, now: datetime) -> int:
    """Purge the audit entries older than the audit retention (the oldest first, always a
    prefix of the chain); the purge is itself an audit entry. Returns how many."""
    keep = settings.deadline("audit.retention", AUDIT_RETENTION)
    if keep is None:
        return 0
    with db.sessions() as session:
        through = session.scalar(select(func.max(AuditEntry.seq))
                                 .where(AuditEntry.at < now - keep))
        if through is None:
            return 0
        count = session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.seq <= through, AuditEntry.purged.is_(False))) or 0
    if count:
        writer.commit(Write(then=AuditPurge(through), audit=Event(
            at=now, client_id="vigie-retention", org_id="-", action="PURGE audit retention",
            object=f"/v1/admin/audit ({count} entries up to {through})",
            legal_basis="operation of the hub", outcome=200)))
    return count


def purge_documents(db: Database, writer: GroupWriter, storage: Storage,
                    now: datetime) -> dict[str, int]:
    """Destroy the uploads no item took before they expired (audited), then delete from
    storage the bytes of every destroyed document (erased items' included)."""
    with db.reads() as conn:
        expired = documents.expired_uploads(conn, now)
    if expired:
        writer.commit(Write(then=documents.Expiry(expired), audit=Event(
            at=now, client_id="vigie-retention", org_id="-", action="PURGE document expiry",
            object=f"/v1/documents ({len(expired)} never attached)",
            legal_basis="documents carried by the exchanges", outcome=200)))
    with db.reads() as conn:
        deleted = documents.delete_objects(conn, storage)
    return {"expired": len(expired), "deleted": deleted}
