"""HTTP handlers shared by every exchange; the resolver binds them to one `Exchange`."""

from __future__ import annotations

from connexion import context
from flask import request
from sqlalchemy.exc import IntegrityError

from ..db import utcnow
from ..http import json_body
from ..hub import current_hub
from ..idempotency import service as idempotency
from ..metrics import SUBMISSIONS
from ..problems import not_found
from . import service
from .definition import Exchange
from .service import Caller


def _caller() -> Caller:
    return Caller.from_claims(context.context["token_info"])


def _created(exchange: Exchange, action: str, produce):
    """Run a creating POST once per Idempotency-Key, inside one transaction."""
    hub = current_hub()
    caller = _caller()
    key = idempotency.check_key(request.headers.get("Idempotency-Key"))
    req_hash = idempotency.request_hash(request.method, request.path, request.get_json())
    for attempt in (1, 2):
        try:
            with hub.db.transaction() as session:
                stored = idempotency.lookup(session, caller.client_id, key, req_hash)
                if stored is not None:
                    return json_body(stored.body, stored.status, {"Idempotent-Replayed": "true"})
                now = utcnow()
                item = produce(session, caller, now)
                body = service.to_resource(exchange, item, now)
                idempotency.remember(session, caller.client_id, key, req_hash, 201, body,
                                     item_id=item.id)
        except IntegrityError:
            # A concurrent request with the same key won the race: answer as it did.
            if attempt == 2:
                raise
            continue
        except Exception:
            SUBMISSIONS.labels(exchange.name, action, "refused").inc()
            raise
        SUBMISSIONS.labels(exchange.name, action, "accepted").inc()
        location = f"/v1/{exchange.name}/{item.id}"
        return json_body(body, 201, {"Location": location})
    raise AssertionError("unreachable")


def submit(exchange: Exchange, body: dict):
    hub = current_hub()
    return _created(exchange, "submit", lambda session, caller, now: service.submit(
        session, hub.settings, exchange, caller, body, now))


def advance(exchange: Exchange, action: str, id: str, body: dict | None = None):  # noqa: A002
    hub = current_hub()
    return _created(exchange, action, lambda session, caller, now: service.advance(
        session, hub.settings, exchange, caller, id, action, body or {}, now))


def read(exchange: Exchange, id: str):  # noqa: A002
    """Without the read scope the answer is 404 too: an item's existence is never told."""
    hub = current_hub()
    caller = _caller()
    with hub.db.sessions() as session:
        if exchange.read_scope not in caller.scopes:
            raise not_found(exchange.name.replace("-", " ").rstrip("s"))
        item = service.get_visible(session, exchange, caller, id)
        return json_body(service.to_resource(exchange, item))


def list_items(exchange: Exchange, role: str | None = None, status: str | None = None,
               overdue: bool | None = None, after: str | None = None,
               limit: int = 50):
    hub = current_hub()
    now = utcnow()
    with hub.db.sessions() as session:
        items, cursor = service.list_visible(session, exchange, _caller(), role, status,
                                             overdue, after, limit, now)
        return json_body({"items": [service.to_resource(exchange, i, now) for i in items],
                          "next": cursor})


