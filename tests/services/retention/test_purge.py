"""The retention purge: personal data removed after the period, a tombstone and an audit
entry left, nothing touched before the period."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

from sqlalchemy import select

from services.audit.models import AuditEntry
from services.db import utcnow
from services.exchanges.models import Item
from services.retention.service import purge
from tests.conftest import events_for, example_answer, example_request


def test_purge_after_retention(stack):
    court, miviludes = stack.api("tj-paris"), stack.api("miviludes")
    secret = "Témoin protégé : Mme Durand"
    old = court.post("/v1/information-requests", example_request(questions=[secret])).json()
    recent = court.post("/v1/information-requests", example_request(questions=[secret])).json()
    for item in (old, recent):
        miviludes.wait_delivered(item["id"])
        miviludes.post(f"/v1/information-requests/{item['id']}/answer",
                       example_answer(text=secret))
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


def _tables_holding(stack, needle: str) -> list[str]:
    """Every table of the hub's database with a row whose text contains `needle`."""
    from sqlalchemy import MetaData, create_engine

    engine = create_engine(stack.owner_url)
    try:
        metadata = MetaData()
        metadata.reflect(engine)
        with engine.connect() as conn:
            return sorted(t.name for t in metadata.sorted_tables
                          if any(needle in str(tuple(row)) for row in conn.execute(t.select())))
    finally:
        engine.dispose()


def test_a_purged_notice_leaves_nothing_behind(stack):
    """Item, steps, feed copies (what the relay publishes), stored answers, duplicate-lookup
    keys: once purged, no table of the database holds the notice's URL any more."""
    from tests.conftest import NO_ACTION, example_notice

    notifier, platform = stack.api("vigilance-alpha"), stack.api("plateforme-alpha")
    url = f"https://video.plateforme-alpha.example/watch?v=victime-{uuid.uuid4().hex}"
    notice = notifier.post("/v1/content-notices", example_notice(urls=[url])).json()
    platform.wait_delivered(notice["id"])
    platform.post(f"/v1/content-notices/{notice['id']}/decision", NO_ACTION)
    assert {"items", "item_keys", "feed_items"} <= set(_tables_holding(stack, url))
    with stack.hub.db.transaction() as session:
        session.get(Item, notice["id"]).updated_at = utcnow() - timedelta(days=4 * 365)
    purge(stack.hub.db, stack.hub.writer, stack.settings, utcnow())
    assert _tables_holding(stack, url) == []


def test_an_order_notification_is_purged_whatever_its_last_state(stack):
    """Acknowledged, its outcome never sent: after the retention it goes all the same."""
    from tests.conftest import example_notification

    prosecution, order = stack.api("pr-paris"), stack.api("cnop")
    item = prosecution.post("/v1/order-notifications", example_notification()).json()
    order.wait_delivered(item["id"])
    order.post(f"/v1/order-notifications/{item['id']}/acknowledgement", {"reference": "R"})
    with stack.hub.db.transaction() as session:
        session.get(Item, item["id"]).updated_at = utcnow() - timedelta(days=6 * 365)
    assert purge(stack.hub.db, stack.hub.writer, stack.settings, utcnow())[
        "order-notifications"] >= 1
    purged = prosecution.get(f"/v1/order-notifications/{item['id']}").json()
    assert purged["status"] == "acknowledged" and purged["content"]["redacted"] is True


def test_signalements_are_kept_longer_once_a_case_is_opened_or_routed():
    from services.config import Settings
    from services.exchanges.registry import EXCHANGES
    from services.retention.service import retention_groups

    settings = Settings.from_env({"VIGIE_DEADLINE_SIGNALEMENTS_RETENTION_ROUTED": "3650d"})
    groups = {tuple(states): keep for states, keep
              in retention_groups(settings, EXCHANGES["signalements"])}
    assert groups[("case_opened",)] == timedelta(days=1825)
    assert groups[("routed",)] == timedelta(days=3650)
    short = next(states for states in groups if "information" in states)
    assert groups[short] == timedelta(days=183)
    assert not {"case_opened", "routed"} & set(short)
    assert {"delivered", "acknowledged", "no_follow_up", "withdrawn"} <= set(short)
