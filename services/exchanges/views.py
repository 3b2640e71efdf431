"""HTTP handlers shared by every exchange; the resolver binds them to one `Exchange`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

import anyio
from connexion import context, request
from sqlalchemy import select

from ..audit.middleware import declared_agent, stated_purpose
from ..creating import Build, Call, create_once
from ..db import utcnow
from ..documents import service as documents
from ..evidence import service as evidence
from ..http import json_body
from ..hub import Hub, current_hub
from ..metrics import STEP_SECONDS, SUBMISSIONS
from ..problems import Problem, invalid, not_found
from ..writes.group import Write
from . import service
from .definition import Exchange
from .service import ITEMS, Caller

__all__ = ["Call"]


def _caller() -> Caller:
    return Caller.from_claims(context.context["token_info"], declared_agent(context.scope))


async def _created(call: Call, exchange: Exchange, action: str, build: Build,
                   body: dict | None, item_id: str | None = None):
    """A submission or a step, once per Idempotency-Key (services/creating.py); a refused
    step on an item the caller may see leaves evidence."""
    hub = current_hub()

    async def refused(problem: Problem) -> None:
        SUBMISSIONS.labels(exchange.name, action, "refused").inc()
        if item_id is not None and problem.status in (409, 422):
            await _record_rejection(hub, exchange, call.caller(), item_id,
                                    action, problem)

    try:
        created = await create_once(call, body, build, refused)
    except Problem:
        raise
    except Exception:
        SUBMISSIONS.labels(exchange.name, action, "refused").inc()
        raise
    if created.resource is None:
        return created.replay
    resource, now = created.resource, created.now
    SUBMISSIONS.labels(exchange.name, action, "accepted").inc()
    if action != "submit":
        STEP_SECONDS.labels(exchange.name, action).observe(max(0.0, (
            now - datetime.fromisoformat(resource["submitted_at"])).total_seconds()))
    return json_body(resource, 201, {"Location": f"/v1/{exchange.name}/{resource['id']}"})


async def _record_rejection(hub: Hub, exchange: Exchange, caller: Caller, item_id: str,
                            action: str, problem: Problem) -> None:
    def rejection():
        with hub.db.reads() as conn:
            return service.rejection(hub.settings, exchange, caller, conn, item_id, action,
                                     problem, utcnow())

    write = await anyio.to_thread.run_sync(rejection)
    if write is not None:
        await hub.writer.written(write)


async def submit(exchange: Exchange, body: dict):
    return await submit_call(Call.current(), exchange, body)


async def submit_call(call: Call, exchange: Exchange, body: dict):
    hub = current_hub()

    async def build(caller: Caller, now: datetime) -> tuple[Write, dict[str, Any]]:
        """Checked and built on the event loop (pure work, the registry as last read);
        only a submission with duplicate keys reads the database (on the loop, or in a
        thread on SQLite)."""
        view = hub.directory.cached()
        try:
            draft, refused = service.draft(hub.settings, view, exchange, caller, body, now), None
        except Problem as problem:
            draft, refused = None, problem
        if view.missed:
            # An unknown organisation, or a registry read overdue: checked again against
            # the database (in a thread), so that a new organisation is known at once.
            draft = await anyio.to_thread.run_sync(
                service.draft, hub.settings, hub.directory, exchange, caller, body, now)
        elif refused is not None:
            raise refused
        if draft.content.get("documents"):
            draft = replace(draft, content=await anyio.to_thread.run_sync(
                _read, hub, service.with_documents, caller.org_id, draft.content, now))
        duplicate = None
        if draft.keys:
            duplicate = (await hub.duplicates.find(draft) if hub.duplicates is not None
                         else await anyio.to_thread.run_sync(_read, hub,
                                                             service.open_duplicate, draft))
        return service.submission(hub.settings, draft, duplicate, hub.box)

    return await _created(call, exchange, "submit", build, body)


async def advance(exchange: Exchange, action: str, id: str,  # noqa: A002
                  body: dict | None = None):
    return await advance_call(Call.current(), exchange, action, id, body)


async def advance_call(call: Call, exchange: Exchange, action: str, id: str,  # noqa: A002
                       body: dict | None = None):
    hub = current_hub()

    erasing: list[bool] = []

    async def build(caller: Caller, now: datetime) -> tuple[Write, dict[str, Any]]:
        """A step reads its item (in a thread)."""
        write, resource = await anyio.to_thread.run_sync(
            _read, hub, lambda conn: service.advance(conn, hub.settings, exchange, caller, id,
                                                     action, body or {}, now, hub.directory,
                                                     hub.box))
        erasing.append(write.then is not None)
        return write, resource

    answer = await _created(call, exchange, action, build, body, item_id=id)
    if any(erasing):
        # The erased item's documents are unreadable already; their bytes go now.
        await anyio.to_thread.run_sync(_delete_destroyed, hub)
    return answer


def _delete_destroyed(hub: Hub) -> None:
    with hub.db.reads() as conn:
        documents.delete_objects(conn, hub.storage)


def _read(hub: Hub, fn: Callable[..., Any], *args: Any) -> Any:
    """`fn(connection, *args)` on a connection of the pool (in a worker thread)."""
    with hub.db.reads() as conn:
        return fn(conn, *args)


def read(exchange: Exchange, id: str, identity: bool = False):  # noqa: A002
    """Without the read scope the answer is 404 too: an item's existence is never told.
    An overseer sees the content when it states its purpose (audited), and the sender's
    identity when it asks for it (`identity`); the recipient of a pseudonymised item sees
    the identities behind its pseudonyms the same way."""
    hub = current_hub()
    caller = _caller()
    now = utcnow()
    purpose = stated_purpose(request.headers)
    if identity and not purpose:
        raise invalid([{"field": "header:Vigie-Purpose",
                        "message": "state the purpose for which the identities are needed"}])
    disclosure = service.Disclosure(purpose, identity) if purpose else None
    with hub.db.reads() as conn:
        if exchange.read_scope not in caller.scopes:
            raise not_found(exchange.name.replace("-", " ").rstrip("s"))
        item, resource = service.read(conn, exchange, caller, id, now, disclosure, hub.box)
        retrieval = (service.retrieval(conn, hub.settings, [item.id], now, caller.agent)
                     if caller.org_id == item.recipient_org else None)
    commit_retrieval(hub, retrieval)
    return json_body(resource)


def commit_retrieval(hub: Hub, write: Write | None) -> None:
    """The first read by the recipient (API or feed) is signed evidence of retrieval;
    committed once the read's own session is closed."""
    if write is not None:
        hub.writer.commit(write)


def check_party(session, exchange: Exchange, caller: Caller, id: str) -> None:  # noqa: A002
    """Only the two parties see an item's evidence (not overseers), with the exchange's
    read scope; anyone else gets 404, as for the item itself."""
    item = session.execute(select(ITEMS).where(ITEMS.c.id == id)).first()
    if item is None or item.exchange != exchange.name or \
            exchange.read_scope not in caller.scopes or caller.org_id not in (
            item.sender_org, item.recipient_org) or (
            caller.org_id == item.recipient_org and item.delivered_at is None):
        raise not_found(exchange.name.replace("-", " ").rstrip("s"))


def evidence_of(exchange: Exchange, id: str, after: int = -1,  # noqa: A002
                limit: int = 100):
    hub = current_hub()
    caller = _caller()
    with hub.db.sessions() as session:
        check_party(session, exchange, caller, id)
        return json_body(evidence.listing(session, id, after, limit))


def bundle_of(exchange: Exchange, id: str):  # noqa: A002
    """The item's evidence as a bundle its party verifies offline against pinned keys."""
    hub = current_hub()
    caller = _caller()
    with hub.db.sessions() as session:
        check_party(session, exchange, caller, id)
        try:
            return json_body(evidence.export(session, id, hub.settings.log_origin,
                                             hub.settings.issuer))
        except LookupError:
            raise not_found("checkpoint") from None


def list_items(exchange: Exchange, role: str | None = None, status: str | None = None,
               overdue: bool | None = None, after: str | None = None,
               limit: int = 50):
    hub = current_hub()
    now = utcnow()
    with hub.db.sessions() as session:
        items, cursor = service.list_visible(session, exchange, _caller(), role, status,
                                             overdue, after, limit, now)
        return json_body({"items": items, "next": cursor})
