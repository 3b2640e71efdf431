"""How the console acts for an agent: through the contract's own operations — the same
body schema, the same scopes, the same handler and write path as an API call — with the
agent in the audit entry and the evidence. There is no second write path.

Flask serves the console in worker threads; the handlers await the write path on the
API's event loop, so each action is handed to that loop and waited for."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from connexion.exceptions import ProblemException
from connexion.spec import Specification
from flask import has_request_context, request

from ..audit import service as audit
from ..audit.middleware import AGENT, PURPOSE, SLOT, AuditSlot
from ..config import ROOT
from ..creating import Call
from ..db import utcnow
from ..exchanges.registry import EXCHANGES, creating_handler
from ..hot_routes import path_pattern
from ..http import ARRIVED, OPERATION, REQUEST_ID, BodySchema, BodySchemas
from ..hub import _CURRENT, Hub
from ..legal.references import REFERENCES
from ..oauth.security import CLAIMS
from ..organisations.scopes import SCOPES_BY_TYPE
from ..writes.group import Write
from .models import Agent

CLIENT_ID = "console"          # the client every console action is recorded under
# What each role adds to the organisation's scopes: reading is every role's; sending
# (submitting a message or recording a step) is a signatory's; the hub's administration
# is an operator administrator's. A drafter prepares, a signatory sends.
_SENDING = re.compile(r":(submit|respond|acknowledge|decide|execute)$")


def scopes_for(org_type: str, roles: frozenset[str]) -> frozenset[str]:
    held = SCOPES_BY_TYPE.get(org_type, frozenset())
    out = {s for s in held if s.endswith(":read") or s == "oversight:read"}
    if "signatory" in roles:
        out |= {s for s in held if _SENDING.search(s)}
    if "administrator" in roles and "admin" in held:
        out.add("admin")
    return frozenset(out)


@dataclass(frozen=True)
class Person:
    """An agent signed in, as every console action carries it."""

    sub: str
    name: str
    org_id: str
    org_type: str
    roles: frozenset[str]
    mfa: bool                      # the IdP reported a second factor (amr)

    @classmethod
    def of(cls, agent: Agent, org_type: str, mfa: bool) -> Person:
        return cls(agent.sub, agent.name, agent.org_id, org_type, agent.role_set, mfa)

    @property
    def label(self) -> str:
        """As the audit and the evidence name a person: "<id> (<name>)"."""
        return f"{self.sub} ({self.name})"[:128]

    @property
    def scopes(self) -> frozenset[str]:
        scopes = scopes_for(self.org_type, self.roles)
        # A signatory without a second factor reads, drafts, and sends nothing.
        return scopes if self.mfa else frozenset(s for s in scopes if not _SENDING.search(s))

    def claims(self) -> dict[str, Any]:
        return {"client_id": CLIENT_ID, "org": self.org_id, "org_type": self.org_type,
                "scope": " ".join(sorted(self.scopes)), "sub": self.sub,
                "agent": self.label}


@dataclass(frozen=True)
class Operation:
    operation_id: str
    template: str
    pattern: re.Pattern[str]
    scopes: frozenset[str]
    schema: dict | None          # the request body's schema (refs resolved)
    body: BodySchema | None
    handler: Callable[[Call, dict[str, str], Any], Awaitable[Any]]


@dataclass(frozen=True)
class Outcome:
    """What an operation answered: the resource, or a problem (status, title, detail,
    errors)."""

    status: int
    resource: dict[str, Any] | None = None
    problem: dict[str, Any] | None = None


def legal_basis(path: str) -> str:
    resource = path.split("/")[2] if path.count("/") >= 2 else ""
    return REFERENCES.at(resource, utcnow()).reference if resource in EXCHANGES else \
        "operation of the hub"


class Gateway:
    def __init__(self, hub: Hub):
        self.hub = hub
        self.loop: asyncio.AbstractEventLoop | None = None
        spec = Specification.load(ROOT / "openapi" / "vigie.yaml")
        schemas = BodySchemas()
        self.operations: dict[str, Operation] = {}
        for template, item in spec["paths"].items():
            op = item.get("post")
            handler = creating_handler(op["operationId"]) if op and "operationId" in op \
                else None
            if handler is None:
                continue
            content = (op.get("requestBody") or {}).get("content") or {}
            schema = (content.get("application/json") or {}).get("schema")
            security = op.get("security", spec.get("security")) or [{}]
            self.operations[op["operationId"]] = Operation(
                op["operationId"], template, path_pattern(template),
                frozenset(security[0].get("oauth2", [])), schema,
                schemas.of(schema) if schema else None, handler)

    def operation(self, exchange: str, action: str) -> Operation:
        return self.operations[f"{exchange}.{action}"]

    def run(self, make: Callable[[], Awaitable[Any]], timeout: float = 60) -> Any:
        """Run a coroutine on the API's event loop, as the hub's current request would."""
        if self.loop is None:
            raise RuntimeError("the console is not mounted on a running event loop")

        async def with_hub():
            token = _CURRENT.set(self.hub)
            try:
                return await make()
            finally:
                _CURRENT.reset(token)

        return asyncio.run_coroutine_threadsafe(with_hub(), self.loop).result(timeout)

    def post(self, person: Person, operation: Operation, params: dict[str, str],
             body: dict[str, Any], idempotency_key: str,
             purpose: str | None = None) -> Outcome:
        """The operation as the API runs it: scopes, the body against the contract's
        schema (every invalid field listed), then the handler; audited with the agent."""
        path = operation.template.format(**params)
        claims = person.claims()
        scope = self._scope("POST", path, claims, person, purpose)
        scope["extensions"][OPERATION] = operation.operation_id
        slot = scope["extensions"][SLOT]
        try:
            if not operation.scopes <= person.scopes:
                raise ProblemException(status=403, title="Forbidden",
                                       detail="your roles do not allow this action")
            if operation.body is not None and not operation.body.valid(body):
                errors = operation.body.listed(body)
                if errors:
                    raise ProblemException(status=422, title="Invalid request",
                                           detail=f"{len(errors)} invalid field(s)",
                                           ext={"errors": errors})
            call = Call(claims, idempotency_key, scope)
            answer = self.run(lambda: operation.handler(call, params, body))
        except ProblemException as problem:
            if not slot.written:
                self.record(slot.event(problem.status))
            return Outcome(problem.status, problem=_problem(problem))
        payload, status = answer[0], answer[1]
        return Outcome(status, resource=payload)

    def record(self, event: audit.Event) -> None:
        self.hub.writer.commit(Write(audit=event))

    def consulted(self, person: Person, path: str, purpose: str | None,
                  outcome: int = 200) -> None:
        """A console read, audited as an API read is (who, organisation, what, why)."""
        scope = self._scope("GET", path, person.claims(), person, purpose)
        self.record(scope["extensions"][SLOT].event(outcome))

    def _scope(self, method: str, path: str, claims: dict, person: Person,
               purpose: str | None) -> dict[str, Any]:
        headers = [(AGENT, quote(person.label, safe=" ()").encode())]
        if purpose:
            headers.append((PURPOSE, quote(purpose, safe=" ").encode()))
        scope: dict[str, Any] = {"type": "http", "method": method, "path": path,
                                 "root_path": "", "headers": headers,
                                 "extensions": {CLAIMS: claims}}
        scope["extensions"][ARRIVED] = time.monotonic()
        # The page's request (ConsoleMount passes the id the hub settled): its audit
        # entries carry it, as the API's do.
        if has_request_context() and (rid := request.headers.get("X-Request-Id")):
            scope["extensions"][REQUEST_ID] = rid
        scope["extensions"][SLOT] = AuditSlot(scope, legal_basis)
        return scope


def _problem(problem: ProblemException) -> dict[str, Any]:
    out = {"status": problem.status, "title": problem.title, "detail": problem.detail}
    out.update(problem.ext or {})
    return out


def new_key() -> str:
    """An Idempotency-Key for one form: a form sent twice records its step once."""
    return secrets.token_urlsafe(18)


def as_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True)
