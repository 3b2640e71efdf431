"""HTTP handlers shared by every exchange; the resolver binds them to one `Exchange`."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import anyio
from connexion import context, request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from starlette.types import Scope

from ..audit.middleware import slot_of, stated_purpose
from ..db import utcnow
from ..evidence import service as evidence
from ..http import json_body, waited
from ..hub import Hub, current_hub
from ..idempotency import service as idempotency
from ..metrics import OVERLOAD_REFUSALS, STEP_SECONDS, SUBMISSIONS
from ..problems import Problem, not_found, overloaded
from ..writes.group import AlreadyAnswered, Conflict, Overloaded, Write
from . import service
from .definition import Exchange
from .service import ITEMS, Caller

# What a creating POST commits and answers, built from the caller and the request's now.
Build = Callable[[Caller, datetime], Awaitable[tuple[Write, dict[str, Any]]]]


def _caller() -> Caller:
    return Caller.from_claims(context.context["token_info"])


@dataclass(frozen=True)
class Call:
    """What a creating POST's handler needs of its request, whichever layer routed it
    (connexion, or the contract's compiled hot routes)."""

    claims: dict[str, Any]
    idempotency_key: str | None
    scope: Scope

    @classmethod
    def current(cls) -> Call:
        """The request connexion is serving."""
        return cls(context.context["token_info"], request.headers.get("Idempotency-Key"),
                   context.scope)


async def _created(call: Call, exchange: Exchange, action: str, build: Build,
                   body: dict | None, item_id: str | None = None):
    """A creating POST, once per Idempotency-Key: checked and built outside any
    transaction (in a thread: it may read the database), then committed by the write path
    with its idempotency record and audit entry, awaited on the event loop; answered only
    once committed."""
    hub = current_hub()
    caller = Caller.from_claims(call.claims)
    key = idempotency.check_key(call.idempotency_key)
    scope = call.scope
    req_hash = idempotency.request_hash(scope["method"], scope.get("root_path", "") + scope["path"],
                                        body)
    slot = slot_of(scope)
    if waited(scope) > hub.settings.queue_budget_seconds:
        # Too late to answer within the budget: refused before any work (503).
        OVERLOAD_REFUSALS.labels("handler_queue").inc()
        raise overloaded()
    arrived = time.monotonic() - waited(scope)

    def lookup():
        with hub.db.sessions() as session:
            return idempotency.lookup(session, caller.client_id, key, req_hash)

    async def replay():
        """The stored answer under this key, if any (422 if it was another request)."""
        stored = await anyio.to_thread.run_sync(lookup)
        if stored is not None:
            return json_body(stored.body, stored.status, {"Idempotent-Replayed": "true"})
        return None

    for attempt in (1, 2):
        try:
            if attempt == 2 and (answer := await replay()) is not None:
                return answer  # the key was taken meanwhile
            now = utcnow()
            write, resource = await build(caller, now)
            write.queued_at = arrived
            write.idempotency = idempotency.record(caller.client_id, key, req_hash, 201,
                                                   resource, resource["id"], now)
            if slot is not None:
                write.audit = slot.event(201)
            await hub.writer.written(write)
            if slot is not None:
                slot.written = True
        except (AlreadyAnswered, IntegrityError):
            # The key was used before, or by a concurrent request: answer as it did.
            if attempt == 2:
                raise Problem(409, "Conflict", "a request with this Idempotency-Key is "
                              "being processed; retry", kind="invalid-state") from None
            continue
        except Conflict:
            # Another step changed the item since it was read: read it again.
            if attempt == 2:
                raise Problem(409, "Conflict", "the item changed meanwhile; retry",
                              kind="invalid-state") from None
            continue
        except Overloaded:
            raise overloaded() from None
        except Problem as problem:
            # A retry of a request answered before is answered as then, even if the item
            # has moved on since (its step would now be refused).
            if problem.status != 503 and (answer := await replay()) is not None:
                return answer
            SUBMISSIONS.labels(exchange.name, action, "refused").inc()
            if item_id is not None and problem.status in (409, 422):
                await _record_rejection(hub, exchange, caller, item_id, action, problem)
            raise
        except Exception:
            SUBMISSIONS.labels(exchange.name, action, "refused").inc()
            raise
        SUBMISSIONS.labels(exchange.name, action, "accepted").inc()
        if action != "submit":
            STEP_SECONDS.labels(exchange.name, action).observe(max(0.0, (
                now - datetime.fromisoformat(resource["submitted_at"])).total_seconds()))
        return json_body(resource, 201, {"Location": f"/v1/{exchange.name}/{resource['id']}"})
    raise AssertionError("unreachable")


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
        duplicate = None
        if draft.keys:
            duplicate = (await hub.duplicates.find(draft) if hub.duplicates is not None
                         else await anyio.to_thread.run_sync(_read, hub,
                                                             service.open_duplicate, draft))
        return service.submission(hub.settings, draft, duplicate)

    return await _created(call, exchange, "submit", build, body)


async def advance(exchange: Exchange, action: str, id: str,  # noqa: A002
                  body: dict | None = None):
    return await advance_call(Call.current(), exchange, action, id, body)


async def advance_call(call: Call, exchange: Exchange, action: str, id: str,  # noqa: A002
                       body: dict | None = None):
    hub = current_hub()

    async def build(caller: Caller, now: datetime) -> tuple[Write, dict[str, Any]]:
        """A step reads its item (in a thread)."""
        return await anyio.to_thread.run_sync(
            _read, hub, lambda conn: service.advance(conn, hub.settings, exchange, caller, id,
                                                     action, body or {}, now))

    return await _created(call, exchange, action, build, body, item_id=id)


def _read(hub: Hub, fn: Callable[..., Any], *args: Any) -> Any:
    """`fn(connection, *args)` on a connection of the pool (in a worker thread)."""
    with hub.db.reads() as conn:
        return fn(conn, *args)


def read(exchange: Exchange, id: str, identity: bool = False):  # noqa: A002
    """Without the read scope the answer is 404 too: an item's existence is never told.
    An overseer sees the content when it states its purpose (audited), and the sender's
    identity when it asks for it (`identity`)."""
    hub = current_hub()
    caller = _caller()
    now = utcnow()
    purpose = stated_purpose(request.headers)
    disclosure = service.Disclosure(purpose, identity) if purpose else None
    with hub.db.reads() as conn:
        if exchange.read_scope not in caller.scopes:
            raise not_found(exchange.name.replace("-", " ").rstrip("s"))
        item, resource = service.read(conn, exchange, caller, id, now, disclosure)
        retrieval = (service.retrieval(conn, hub.settings, [item.id], now)
                     if caller.org_id == item.recipient_org else None)
    commit_retrieval(hub, retrieval)
    return json_body(resource)


def commit_retrieval(hub: Hub, write: Write | None) -> None:
    """The first read by the recipient (API or feed) is signed evidence of retrieval;
    committed once the read's own session is closed."""
    if write is not None:
        hub.writer.commit(write)


def _check_party(session, exchange: Exchange, caller: Caller, id: str) -> None:  # noqa: A002
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
        _check_party(session, exchange, caller, id)
        return json_body(evidence.listing(session, id, after, limit))


def bundle_of(exchange: Exchange, id: str):  # noqa: A002
    """The item's evidence as a bundle its party verifies offline against pinned keys."""
    hub = current_hub()
    caller = _caller()
    with hub.db.sessions() as session:
        _check_party(session, exchange, caller, id)
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
