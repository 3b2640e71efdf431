"""The retention purge: personal data removed after the period, a tombstone and an audit
entry left, nothing touched before the period."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select

from services.audit.models import AuditEntry
from services.db import utcnow
from services.exchanges.models import Item
from services.retention.service import purge
from tests.conftest import events_for, example_request


def test_purge_after_retention(stack):
    court, miviludes = stack.api("tj-paris"), stack.api("miviludes")
    secret = "Témoin protégé : Mme Durand"
    old = court.post("/v1/information-requests", example_request(questions=[secret])).json()
    recent = court.post("/v1/information-requests", example_request(questions=[secret])).json()
    for item in (old, recent):
        miviludes.wait_delivered(item["id"])
        miviludes.post(f"/v1/information-requests/{item['id']}/answer", {"text": secret})
    court.wait_feed(lambda f: "answered" in events_for(f, old["id"]))
    with stack.hub.db.transaction() as session:
        session.get(Item, old["id"]).updated_at = utcnow() - timedelta(days=6 * 365)

    result = purge(stack.hub.db, stack.hub.writer, stack.settings, utcnow())
    assert result["information-requests"] >= 1
    purged = court.get(f"/v1/information-requests/{old['id']}").json()
    assert purged["content"]["redacted"] is True and purged["content"]["digest"]
    assert secret not in json.dumps(purged, ensure_ascii=False)
    assert [s["action"] for s in purged["steps"]] == ["answer"]  # the tombstone keeps steps
    feed_copies = [e for e in miviludes.feed() + court.feed() if e["event"]["subject"] == old["id"]]
    assert feed_copies and secret not in json.dumps(feed_copies, ensure_ascii=False)
    kept = court.get(f"/v1/information-requests/{recent['id']}").json()
    assert kept["content"]["questions"] == [secret]
    with stack.hub.db.sessions() as session:
        entry = session.scalar(select(AuditEntry).where(
            AuditEntry.object == f"/v1/information-requests/{old['id']}",
            AuditEntry.action == "PURGE retention"))
    assert entry is not None and entry.legal_basis == "art. 157-3 CPP"
    purged = purge(stack.hub.db, stack.hub.writer, stack.settings, utcnow())
    assert purged["information-requests"] == 0


def test_retention_is_configurable():
    from services.config import Settings

    settings = Settings.from_env({"VIGIE_DEADLINE_INFORMATION_REQUESTS_RETENTION": "3650d"})
    assert settings.deadline("information-requests.retention", None) == timedelta(days=3650)
