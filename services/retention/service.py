"""The purge job: closed items past their retention lose their personal data, through
the write path like any other change (the erasure and its audit entry commit together)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from ..audit.service import Event
from ..config import Settings
from ..db import Database
from ..exchanges.models import Item
from ..exchanges.registry import EXCHANGES
from ..exchanges.service import erasure
from ..writes.group import Conflict, GroupWriter


def purge(db: Database, writer: GroupWriter, settings: Settings,
          now: datetime) -> dict[str, int]:
    """Purge every closed item past its retention; returns how many per exchange."""
    purged: dict[str, int] = {}
    for name, exchange in EXCHANGES.items():
        keep = settings.deadline(f"{name}.retention", exchange.retention)
        if keep is None:
            continue
        with db.sessions() as session:
            due = list(session.scalars(select(Item.id).where(
                Item.exchange == name,
                Item.status.in_(exchange.retention_states or exchange.closed_states),
                Item.updated_at < now - keep)))
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
