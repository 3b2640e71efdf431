"""X-Request-Id: the caller's own id (or the hub's) echoed, named in every problem's
`instance`, held by the request's audit entry and by the hub's logs of it."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re

import anyio
import structlog
from sqlalchemy import select

from services import logs
from services.audit.models import AuditEntry
from services.audit.service import entry_hash
from services.http import EdgeMiddleware

MISSING = "/v1/information-requests/0f0f0f0f-0000-4000-8000-000000000000"


def test_the_callers_id_is_echoed_named_and_audited(stack):
    court = stack.api("tj-paris")
    mine = stack.http.get(MISSING, headers={**court.headers, "X-Request-Id": "greffe-42.a:b"})
    assert mine.status_code == 404
    assert mine.headers["x-request-id"] == "greffe-42.a:b"
    assert mine.json()["instance"] == "urn:vigie:request:greffe-42.a:b"
    # Not a plain token (spaces, too long): the hub names the request itself.
    for bad in ("two words", "x" * 129, "-leading"):
        given = stack.http.get(MISSING, headers={**court.headers, "X-Request-Id": bad})
        assert re.fullmatch(r"[0-9a-f]{32}", given.headers["x-request-id"]), bad
    ok = stack.http.get("/v1/information-requests", headers=court.headers)
    assert re.fullmatch(r"[0-9a-f]{32}", ok.headers["x-request-id"])
    # Refused at the edge, before any handler: named all the same.
    huge = stack.http.post("/v1/information-requests", content=b"{}", headers={
        **court.headers, "Idempotency-Key": "rid-1", "Content-Type": "application/json",
        "Content-Length": str(10**9), "X-Request-Id": "greffe-43"})
    assert huge.status_code == 413 and huge.json()["instance"] == "urn:vigie:request:greffe-43"
    assert huge.headers["x-request-id"] == "greffe-43"
    with stack.hub.db.sessions() as session:
        entry = session.scalars(select(AuditEntry).where(
            AuditEntry.request_id == "greffe-42.a:b")).one()
    assert (entry.object, entry.outcome, entry.org_id) == (MISSING, 404, "tj-paris")
    # The id is in what the entry's hash covers: changed, the entry no longer holds.
    assert entry.hash == entry_hash(entry.prev_hash, entry.seq, entry)
    entry.request_id = "greffe-99"
    assert entry.hash != entry_hash(entry.prev_hash, entry.seq, entry)


def test_logs_are_json_lines_with_the_request_id():
    root = logging.getLogger()
    kept = root.handlers[:], root.level
    buffer = io.StringIO()
    try:
        logs.configure("json")
        root.handlers[0].setStream(buffer)

        async def app(scope, receive, send):
            logging.getLogger("vigie.test").warning("in the handler")
            # A synchronous handler runs in a thread: the id goes with it.
            await anyio.to_thread.run_sync(
                lambda: logging.getLogger("vigie.test").warning("in its thread"))
            await send({"type": "http.response.start", "status": 204, "headers": []})
            await send({"type": "http.response.body", "body": b""})

        sent = []

        async def send(message):
            sent.append(message)

        async def receive():
            return {"type": "http.request", "body": b""}

        edge = EdgeMiddleware(app, max_body_bytes=1024)
        asyncio.run(edge({"type": "http", "method": "GET", "path": "/v1/feed",
                          "headers": [(b"x-request-id", b"witness-7")]}, receive, send))
        lines = [json.loads(line) for line in buffer.getvalue().splitlines()]
    finally:
        root.handlers[:], _ = kept
        root.setLevel(kept[1])
        structlog.reset_defaults()
    assert dict(sent[0]["headers"])[b"x-request-id"] == b"witness-7"
    assert [(line["event"], line["request_id"], line["level"]) for line in lines] == [
        ("in the handler", "witness-7", "warning"), ("in its thread", "witness-7", "warning")]
    assert all(line["logger"] == "vigie.test" and line["timestamp"].endswith("Z")
               for line in lines)
