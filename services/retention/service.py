"""The purge job."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import select

from ..audit import service as audit
from ..config import Settings
from ..db import Database
from ..exchanges.models import Item
from ..exchanges.registry import EXCHANGES
from ..exchanges.service import erase, redacted_data
from ..feed import service as feed


def purge(db: Database, settings: Settings, now: datetime) -> dict[str, int]:
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
            with db.transaction() as session:
                item = session.get(Item, item_id)
                if json.loads(item.content).get("redacted"):
                    continue
                erase(session, exchange, item)
                feed.redact_item(session, item.id, redacted_data)
                count += 1
            audit.append(db, audit.Event(
                at=now, client_id="vigie-retention", org_id="-", action="PURGE retention",
                object=f"/v1/{name}/{item_id}", legal_basis=exchange.legal_basis,
                outcome=200))
        purged[name] = count
    return purged
