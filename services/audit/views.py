"""GET /v1/admin/audit: operators read the audit log."""

from __future__ import annotations

from sqlalchemy import select

from ..http import json_body
from ..hub import current_hub
from . import service
from .models import AuditEntry


def read(after: int = 0, limit: int = 100):
    with current_hub().db.sessions() as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.seq > after)
                               .order_by(AuditEntry.seq).limit(limit))
        items = [service.to_resource(e) for e in rows]
    return json_body({"items": items, "next": items[-1]["seq"] if items else after})
