"""Audits every /v1 request — reads, writes, refusals (401, 403, 404 on another
organisation's item) and administrative actions — before its answer leaves the hub:
a response is never sent unaudited.

A handler that commits through the write path puts its own audit entry in the same
transaction and marks the slot written; every other request's entry goes through the
write path here, when its status is known."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable
from urllib.parse import unquote

from starlette.types import ASGIApp, Receive, Scope, Send

from ..db import utcnow
from ..http import operation_id, request_id
from ..legal.references import REFERENCES
from ..oauth.security import CLAIMS
from ..problems import invalid
from ..writes.group import GroupWriter, Write
from . import service

log = logging.getLogger(__name__)
_CONTROLS = re.compile(r"[\x00-\x1f\x7f]")
# `identity=true` in a query string, as the contract's boolean reads it (any case).
_DISCLOSED = re.compile(rb"(?:^|&)identity=true(?:&|$)", re.I)
SLOT = "vigie.audit"
# What the hub's own resources are for; exchanges and oversight cite the dated table.
LABELS = {"feed": "delivery to the recipient", "webhooks": "delivery to the recipient",
          "documents": "documents carried by the exchanges",
          "admin": "operation of the hub", "clients": "the client's own credentials"}


class AuditSlot:
    """The request's audit entry, to be written once: by the handler's own write, or by
    the middleware at response time."""

    def __init__(self, scope: Scope, legal_basis: Callable[[str], str]):
        self.scope = scope
        self.legal_basis = legal_basis
        self.written = False

    def event(self, status: int) -> service.Event:
        extensions = self.scope.get("extensions") or {}
        claims = ((extensions.get("connexion_context") or {}).get("token_info")
                  or extensions.get(CLAIMS) or {})
        path = printable(self.scope["path"], 300)
        if _DISCLOSED.search(self.scope.get("query_string") or b""):
            # Identities shown behind pseudonyms: the entry says so (query strings are
            # not recorded otherwise).
            path = path[:285] + "?identity=true"
        action = f"{self.scope.get('method', 'GET')} {operation_id(self.scope) or path[:200]}"
        headers = dict(self.scope.get("headers") or [])
        agent, purpose = (headers[name].decode("latin-1") if name in headers else None
                          for name in (AGENT, PURPOSE))
        return service.Event(
            at=utcnow(), client_id=printable(str(claims.get("client_id", "anonymous")), 64),
            org_id=printable(str(claims.get("org", "-")), 64), action=printable(action, 128),
            object=path, legal_basis=self.legal_basis(path), outcome=status,
            agent=_declared(agent, 128), purpose=_declared(purpose, 200),
            request_id=request_id(self.scope))


# The person behind a request, as the calling organisation's system forwards it (its
# user's identifier and name), and the purpose stated for consulting personal data;
# percent-encoded UTF-8 outside ASCII (HTTP headers are ASCII).
AGENT, PURPOSE = b"vigie-agent", b"vigie-purpose"


def _declared(raw: str | None, limit: int) -> str | None:
    """A declared header as recorded: decoded, trimmed, printable, within `limit`."""
    text = printable(unquote(raw).strip(), limit) if raw is not None else ""
    return text or None


def declared_agent(scope: Scope) -> str | None:
    """The person a request's system names (Vigie-Agent), as the audit records it."""
    for name, value in scope.get("headers") or ():
        if name == AGENT:
            return _declared(value.decode("latin-1"), 128)
    return None


def stated_purpose(headers) -> str | None:
    """The purpose a caller states for a consultation (Vigie-Purpose), refused when it is
    too long to be recorded whole."""
    raw = headers.get("vigie-purpose")
    if raw is not None and len(unquote(raw).strip()) > 200:
        raise invalid([{"field": "header:Vigie-Purpose",
                        "message": "at most 200 characters: the purpose is recorded whole"}])
    return _declared(raw, 200)


def printable(text: str, limit: int) -> str:
    """What a request put in an audit field, storable by every database (no NUL or other
    control characters: PostgreSQL refuses NUL) and within its column."""
    return _CONTROLS.sub("\ufffd", text)[:limit]


def slot_of(scope: Scope) -> AuditSlot | None:
    return (scope.get("extensions") or {}).get(SLOT)


# Refused before any token was read: 401, 429 (the address's rate limit), 503 (at capacity).
PRE_AUTHENTICATION = frozenset({401, 429, 503})


class AnonymousRefusals:
    """Refusals of callers without a valid token (PRE_AUTHENTICATION) are audited in
    aggregate: the first of each route and status in a window as itself, the others as
    one entry with their count when the window closes — a flood adds a few rows a minute,
    not one per request. At capacity this matters most: an entry per refusal made the
    writer commit as many refusals as submissions (measured at twice the maximum)."""

    def __init__(self, writer: GroupWriter, window_seconds: float = 60.0):
        self.writer = writer
        self.window = window_seconds
        self.counts: dict[tuple[str, int], int] = {}
        self.flushing = False

    def absorb(self, event: service.Event) -> bool:
        """True when the event is counted instead of written now."""
        method, _, target = event.action.partition(" ")
        # By operation; every path that matched none counts as one (a bounded set of keys).
        key = (f"{method} {'(no route)' if target.startswith('/') else target}",
               event.outcome)
        if key not in self.counts:
            self.counts[key] = 0
            if not self.flushing:
                self.flushing = True
                asyncio.get_running_loop().call_later(self.window, self.flush)
            return False
        self.counts[key] += 1
        return True

    def flush(self) -> None:
        counts, self.counts, self.flushing = self.counts, {}, False
        for (action, outcome), n in counts.items():
            if n:
                event = service.Event(
                    at=utcnow(), client_id="anonymous", org_id="-",
                    action=printable(f"{action} ×{n}", 128),
                    object=f"{n} more refusals without a valid token in {self.window:g} s",
                    legal_basis="security of the hub", outcome=outcome)
                self.writer.submit(Write(audit=event)).add_done_callback(_logged)


def _logged(future) -> None:
    if future.exception() is not None:
        log.error("aggregated audit entry not written: %s", future.exception())


class AuditMiddleware:
    def __init__(self, app: ASGIApp, writer: GroupWriter, legal_keys: frozenset[str]):
        """`legal_keys`: the /v1 resources whose legal basis is in the dated table (the
        exchanges; oversight is added here)."""
        self.app = app
        self.writer = writer
        self.legal_keys = legal_keys | {"oversight"}
        self.anonymous = AnonymousRefusals(writer)

    def legal_basis(self, path: str) -> str:
        resource = path.split("/")[2] if path.count("/") >= 2 else ""
        if resource in self.legal_keys:
            return REFERENCES.at(resource, utcnow()).reference
        return LABELS.get(resource, "—")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        slot = AuditSlot(scope, self.legal_basis)
        scope.setdefault("extensions", {})[SLOT] = slot

        async def send_(message):
            if message["type"] == "http.response.start" and not slot.written:
                slot.written = True
                event = slot.event(message["status"])
                if event.client_id == "anonymous" and event.outcome in PRE_AUTHENTICATION and \
                        self.anonymous.absorb(event):
                    await send(message)
                    return
                try:
                    await self.writer.written(Write(audit=event))
                except Exception:
                    log.exception("audit log unavailable: refusing to answer unaudited")
                    body = json.dumps({"type": "https://vigie.gouv.fr/problems/unavailable",
                                       "title": "Service Unavailable", "status": 503,
                                       "detail": "the audit log is unavailable"}).encode()
                    await send({"type": "http.response.start", "status": 503,
                                "headers": [(b"content-type", b"application/problem+json"),
                                            (b"content-length", str(len(body)).encode()),
                                            (b"retry-after", b"1")]})
                    await send({"type": "http.response.body", "body": body})
                    raise _Aborted from None
            await send(message)

        try:
            await self.app(scope, receive, send_)
        except _Aborted:
            return
        finally:
            # The slot and the scope refer to each other: unlinked here, both are freed
            # when the request ends instead of waiting for the cyclic collector, whose
            # passes over a request's worth of such garbage paused the API process.
            scope["extensions"].pop(SLOT, None)


class _Aborted(Exception):
    pass
