"""HTTP handlers shared by every exchange; the resolver binds them to one `Exchange`."""

from __future__ import annotations

from connexion import context
from flask import request
from sqlalchemy.exc import IntegrityError

from ..db import utcnow
from ..evidence import service as evidence
from ..http import json_body
from ..hub import current_hub
from ..idempotency import service as idempotency
from ..metrics import STEP_SECONDS, SUBMISSIONS
from ..problems import Problem, not_found
from . import service
from .definition import Exchange
from .models import Item
from .service import Caller


def _caller() -> Caller:
    return Caller.from_claims(context.context["token_info"])


def _created(exchange: Exchange, action: str, produce, item_id: str | None = None):
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
        except Problem as problem:
            SUBMISSIONS.labels(exchange.name, action, "refused").inc()
            if item_id is not None and problem.status in (409, 422):
                _record_rejection(exchange, caller, item_id, action, problem)
            raise
        except Exception:
            SUBMISSIONS.labels(exchange.name, action, "refused").inc()
            raise
        SUBMISSIONS.labels(exchange.name, action, "accepted").inc()
        if action != "submit":
            STEP_SECONDS.labels(exchange.name, action).observe(
                max(0.0, (now - item.created_at).total_seconds()))
        location = f"/v1/{exchange.name}/{item.id}"
        return json_body(body, 201, {"Location": location})
    raise AssertionError("unreachable")


def _record_rejection(exchange: Exchange, caller: Caller, item_id: str, action: str,
                      problem: Problem) -> None:
    """A refused step on an item the caller may see leaves signed evidence too."""
    hub = current_hub()
    with hub.db.transaction() as session:
        try:
            item = service.get_visible(session, exchange, caller, item_id)
        except Problem:
            return
        detail = f"{action} refused ({problem.status}): {problem.detail}"
        hub.signer.sign(session, item, "rejected", utcnow(), detail=detail[:500])


def submit(exchange: Exchange, body: dict):
    hub = current_hub()
    return _created(exchange, "submit", lambda session, caller, now: service.submit(
        session, hub.settings, exchange, caller, body, now, hub.signer))


def advance(exchange: Exchange, action: str, id: str, body: dict | None = None):  # noqa: A002
    hub = current_hub()
    return _created(exchange, action, lambda session, caller, now: service.advance(
        session, hub.settings, exchange, caller, id, action, body or {}, now, hub.signer),
        item_id=id)


def read(exchange: Exchange, id: str):  # noqa: A002
    """Without the read scope the answer is 404 too: an item's existence is never told."""
    hub = current_hub()
    caller = _caller()
    with hub.db.sessions() as session:
        if exchange.read_scope not in caller.scopes:
            raise not_found(exchange.name.replace("-", " ").rstrip("s"))
        item = service.get_visible(session, exchange, caller, id)
        resource = service.to_resource(exchange, item)
    if caller.org_id == item.recipient_org:
        mark_retrieved(hub, [item.id])
    return json_body(resource)


def mark_retrieved(hub, item_ids: list[str]) -> None:
    """The first read by the recipient (API or feed) is signed evidence of retrieval."""
    if not item_ids:
        return
    with hub.db.sessions() as session:
        missing = evidence.without_step(session, item_ids, "retrieved")
    if not missing:
        return  # the usual case for a feed re-read: no write transaction
    with hub.db.transaction() as session:
        for item_id in evidence.without_step(session, missing, "retrieved"):
            item = session.get(Item, item_id)
            if item is not None:  # a feed entry whose item is not (or no longer) stored
                hub.signer.sign(session, item, "retrieved", utcnow())


def evidence_of(exchange: Exchange, id: str):  # noqa: A002
    """Only the two parties see an item's evidence (not overseers)."""
    hub = current_hub()
    caller = _caller()
    with hub.db.sessions() as session:
        item = session.get(Item, id)
        if item is None or item.exchange != exchange.name or caller.org_id not in (
                item.sender_org, item.recipient_org) or (
                caller.org_id == item.recipient_org and item.delivered_at is None):
            raise not_found(exchange.name.replace("-", " ").rstrip("s"))
        return json_body({"item": id, "evidence": evidence.listing(session, id)})


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


