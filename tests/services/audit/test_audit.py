"""The audit log: every /v1 request recorded and chained; tampering detected."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from services.audit import service as audit
from services.db import Database, utcnow
from services.migrations import upgrade
from services.verifiable_log import keys as log_keys
from services.verifiable_log.service import Appender
from services.writes.group import GroupWriter, Write
from tests.conftest import example_request


def test_reads_writes_and_refusals_are_audited(stack):
    paris, lyon = stack.api("tj-paris"), stack.api("tj-lyon")
    item = paris.post("/v1/information-requests", example_request()).json()
    paris.get(f"/v1/information-requests/{item['id']}")
    lyon.get(f"/v1/information-requests/{item['id']}")  # another court's item: 404
    stack.http.get("/v1/information-requests")           # no token: 401
    operator = stack.api("exploitation")
    entries, after = [], 0
    while True:  # each read is audited too: stop at a short page
        page = operator.get("/v1/admin/audit", after=after, limit=200).json()
        entries += page["items"]
        if len(page["items"]) < 200:
            break
        after = page["next"]
    mine = [e for e in entries if e["object"].endswith(item["id"])]
    outcomes = {(e["org"], e["action"], e["outcome"]) for e in mine}
    assert ("tj-paris", "GET information-requests.read", 200) in outcomes
    assert ("tj-lyon", "GET information-requests.read", 404) in outcomes
    submitted = [e for e in entries if e["action"] == "POST information-requests.submit"
                 and e["org"] == "tj-paris"]
    assert all(e["legal_basis"] == "art. 157-3 CPP" for e in submitted)
    assert any(e["outcome"] == 201 for e in submitted)
    assert any(e["client_id"] == "anonymous" and e["outcome"] == 401 for e in entries)
    # Reading the audit log is itself audited (seen by the next read).
    later = operator.get("/v1/admin/audit", after=entries[-1]["seq"]).json()["items"]
    assert later[0]["action"] == "GET audit.read"
    assert later[0]["org"] == "exploitation"
    assert stack.api("tj-paris").get("/v1/admin/audit").status_code == 403
    with stack.hub.db.sessions() as session:
        count, problems = audit.verify(session)
    assert problems == [] and count >= len(entries)


@pytest.fixture(params=["sqlite", "postgresql"])
def audit_db(request, database_factory):
    url = database_factory(request.param)
    upgrade(url)
    db = Database(url)
    with db.transaction() as session:
        log_keys.ensure_key(session, "test.example/log")
    keys = log_keys.LogKeys(db, "test.example/log")
    keys.reload()
    writer = GroupWriter(db, Appender(keys, "test.example/log", db))
    start = utcnow()
    for i in range(10):
        writer.commit(Write(audit=audit.Event(
            at=start + timedelta(seconds=i), client_id="c", org_id="o",
            action=f"GET action-{i + 1}", object=f"/v1/x/{i + 1}", legal_basis="test",
            outcome=200)))
    yield db
    db.engine.dispose()


def _problems(db: Database) -> list[str]:
    with db.sessions() as session:
        return audit.verify(session)[1]


def _unlock(db: Database) -> None:
    """What an attacker with database access would do first."""
    with db.engine.begin() as conn:
        if db.dialect == "postgresql":
            conn.execute(text("DROP TRIGGER audit_log_append_only ON audit_log"))
        else:
            conn.execute(text("DROP TRIGGER audit_log_no_update"))
            conn.execute(text("DROP TRIGGER audit_log_no_delete"))


def test_the_database_refuses_updates_and_deletes(audit_db):
    for statement in ("UPDATE audit_log SET outcome = 500 WHERE seq = 2",
                      "DELETE FROM audit_log WHERE seq = 2"):
        with pytest.raises(DBAPIError), audit_db.engine.begin() as conn:
            conn.execute(text(statement))
    assert _problems(audit_db) == []


def test_a_modified_entry_is_named(audit_db):
    _unlock(audit_db)
    with audit_db.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET outcome = 404 WHERE seq = 3"))
    assert _problems(audit_db) == ["entry 3 modified"]


def test_a_deleted_entry_is_named(audit_db):
    _unlock(audit_db)
    with audit_db.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE seq = 5"))
    assert _problems(audit_db) == ["entry 5 deleted"]


def test_deleted_last_entries_are_noticed(audit_db):
    _unlock(audit_db)
    with audit_db.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE seq >= 9"))
    assert _problems(audit_db) == ["entries 9-10 deleted at the end"]


def test_reordered_entries_are_named(audit_db):
    _unlock(audit_db)
    with audit_db.engine.begin() as conn:  # swap the positions of entries 6 and 7
        conn.execute(text("UPDATE audit_log SET seq = 1000 WHERE seq = 6"))
        conn.execute(text("UPDATE audit_log SET seq = 6 WHERE seq = 7"))
        conn.execute(text("UPDATE audit_log SET seq = 7 WHERE seq = 1000"))
    problems = _problems(audit_db)
    assert problems and all("reordered" in p for p in problems), problems


def test_only_a_purge_gets_through_and_only_of_the_oldest_entries(audit_db):
    """The database lets an update through only if it empties an entry's personal fields
    and keeps the rest; the chain verifies a purged prefix, and names a purge that skips
    older entries (an attempt to hide one)."""
    from services.retention.service import AuditPurge

    with pytest.raises(DBAPIError), audit_db.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET purged = true, client_id = '', object = '', "
                          "action = 'nothing' WHERE seq = 2"))
    with audit_db.engine.begin() as conn:
        AuditPurge(3)(conn)
    assert _problems(audit_db) == []
    with audit_db.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET purged = true, client_id = '', object = '' "
                          "WHERE seq = 7"))
    assert _problems(audit_db) == ["entry 7 purged after entry 4, which is kept: the "
                                   "retention purges the oldest entries only"]


def test_agent_and_purpose_are_chained_when_given(audit_db):
    event = audit.Event(at=utcnow(), client_id="c", org_id="o", action="GET x", object="/v1/x",
                        legal_basis="test", outcome=200)
    with_agent = audit.Event(**{**event.__dict__, "agent": "a-1", "purpose": "suivi"})
    assert audit.entry_hash("h", 1, event) != audit.entry_hash("h", 1, with_agent)
    assert audit.entry_hash("h", 1, event) == audit.entry_hash(
        "h", 1, audit.Event(**{**event.__dict__, "agent": None}))
