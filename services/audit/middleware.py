"""Audits every /v1 request — reads, writes, refusals (401, 403, 404 on another
organisation's item) and administrative actions — before its answer leaves the hub:
a response is never sent unaudited."""

from __future__ import annotations

import asyncio
import json
import logging

from starlette.types import ASGIApp, Receive, Scope, Send

from ..db import Database, utcnow
from ..exchanges.registry import EXCHANGES
from . import service

log = logging.getLogger(__name__)
BASES = {"feed": "delivery to the recipient", "webhooks": "delivery to the recipient",
         "admin": "operation of the hub", "oversight": "DSA art. 22 and art. 131-35-1 CP "
                                                       "oversight (ARCOM)"}


def legal_basis(path: str) -> str:
    resource = path.split("/")[2] if path.count("/") >= 2 else ""
    exchange = EXCHANGES.get(resource)
    return exchange.legal_basis if exchange else BASES.get(resource, "—")


class AuditMiddleware:
    def __init__(self, app: ASGIApp, db: Database):
        self.app = app
        self.db = db
        self.writer = service.AuditWriter(db)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        scope.setdefault("extensions", {})

        async def send_(message):
            if message["type"] == "http.response.start":
                try:
                    await asyncio.wrap_future(self.writer.submit(
                        self._event(scope, message["status"])))
                except Exception:
                    log.exception("audit log unavailable: refusing to answer unaudited")
                    body = json.dumps({"type": "https://vigie.gouv.fr/problems/unavailable",
                                       "title": "Service Unavailable", "status": 503,
                                       "detail": "the audit log is unavailable"}).encode()
                    await send({"type": "http.response.start", "status": 503,
                                "headers": [(b"content-type", b"application/problem+json"),
                                            (b"content-length", str(len(body)).encode())]})
                    await send({"type": "http.response.body", "body": body})
                    raise _Aborted from None
            await send(message)

        try:
            await self.app(scope, receive, send_)
        except _Aborted:
            return

    @staticmethod
    def _event(scope: Scope, status: int) -> service.Event:
        extensions = scope.get("extensions") or {}
        claims = (extensions.get("connexion_context") or {}).get("token_info") or {}
        routing = extensions.get("connexion_routing") or {}
        path = scope["path"]
        action = f"{scope.get('method', 'GET')} {routing.get('operation_id') or path[:200]}"
        return service.Event(
            at=utcnow(), client_id=str(claims.get("client_id", "anonymous"))[:64],
            org_id=str(claims.get("org", "-"))[:64], action=action[:128], object=path[:300],
            legal_basis=legal_basis(path), outcome=status)


class _Aborted(Exception):
    pass
