"""A creating POST, once per Idempotency-Key, for every resource the hub creates (an
exchange's submission or step, a document): checked and built outside any transaction,
then committed by the write path with its idempotency record and audit entry, awaited on
the event loop, answered only once committed — or answered as it was the first time."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import anyio
from connexion import context, request
from sqlalchemy.exc import IntegrityError
from starlette.types import Scope

from .audit.middleware import declared_agent, slot_of
from .db import utcnow
from .http import json_body, waited
from .hub import current_hub
from .idempotency import service as idempotency
from .metrics import OVERLOAD_REFUSALS
from .oauth.identity import Caller
from .problems import Problem, overloaded
from .writes.group import AlreadyAnswered, Conflict, Overloaded, Write

# What a creating POST commits and answers, built from the caller and the request's now.
Build = Callable[[Caller, datetime], Awaitable[tuple[Write, dict[str, Any]]]]


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

    def caller(self) -> Caller:
        """Who calls: the token's organisation and client, and the person its system
        names (Vigie-Agent), as the audit entry records them."""
        return Caller.from_claims(self.claims, declared_agent(self.scope))


@dataclass(frozen=True)
class Created:
    """A committed creation (`resource`, at `now`), or the stored answer to a retry."""

    resource: dict[str, Any] | None
    replay: Any = None
    now: datetime | None = None


async def create_once(call: Call, body: Any, build: Build,
                      refused: Callable[[Problem], Awaitable[None]] | None = None,
                      queued_from_build: bool = False) -> Created:
    """Build and commit once per Idempotency-Key (`body`: what identifies the request
    besides its method and path). `refused` hears of each refusal not answered by a
    stored answer, before it is raised. The overload budget counts the time a request
    waits, from its arrival; `queued_from_build`: from the end of its build instead, for
    a build whose own work is long by nature (a document stored), not a wait."""
    hub = current_hub()
    caller = call.caller()
    key = idempotency.check_key(call.idempotency_key)
    scope = call.scope
    req_hash = idempotency.request_hash(scope["method"],
                                        scope.get("root_path", "") + scope["path"], body)
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
                return Created(None, answer)  # the key was taken meanwhile
            now = utcnow()
            write, resource = await build(caller, now)
            write.queued_at = time.monotonic() if queued_from_build else arrived
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
            # Another request changed what this one read: read it again.
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
                return Created(None, answer)
            if refused is not None:
                await refused(problem)
            raise
        return Created(resource, None, now)
    raise AssertionError("unreachable")
