"""The contract's creating POSTs (submissions and lifecycle steps) served without
connexion's per-request layers — measured at about a fifth of an API process's CPU under
load (routing through every mount, security, parameter decoding, the context, the
response decorators).

Each route is compiled at start from the OpenAPI document itself: path, required scopes,
header and path parameter schemas, body schema (the same `BodySchema` connexion's
validator uses). A request is taken here only when it passes every check of the contract
on the first try: a bearer token that verifies and holds the operation's scopes, a JSON
body under the inline size that parses and validates, no query string, valid parameters.
Anything else goes on to connexion untouched (its body replayed), so every refusal is the
one connexion gives, listed the same way; a differential test keeps the two paths' answers
identical."""

from __future__ import annotations

import re
import typing as t
from dataclasses import dataclass

import jsonschema_rs
from connexion.lifecycle import ConnexionRequest, ConnexionResponse
from connexion.middleware.exceptions import ExceptionMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .http import INLINE_BYTES, OPERATION, BodySchema, FastJsonifier, parse_json
from .metrics import HOT_ROUTES
from .oauth.security import CLAIMS
from .oauth.tokens import InvalidToken, TokenVerifier
from .problems import Problem, too_many_requests

Handler = t.Callable[[t.Any, dict[str, str], t.Any], t.Awaitable[t.Any]]
ErrorHandler = t.Callable[[ConnexionRequest, Exception], ConnexionResponse]
_JSON = re.compile(rb"^application/json\s*(;\s*charset\s*=\s*\"?utf-8\"?\s*)?$", re.I)


@dataclass(frozen=True)
class HotRoute:
    operation_id: str
    path: re.Pattern[str]
    scopes: frozenset[str]
    # lower-case header name (bytes) → (required, validator)
    headers: tuple[tuple[bytes, bool, t.Any], ...]
    path_params: tuple[tuple[str, t.Any], ...]
    body: BodySchema
    handler: Handler


def path_pattern(template: str) -> re.Pattern[str]:
    """`/v1/x/{id}/y` → a pattern with a named group per parameter (no slash inside, as
    the router's default converter)."""
    parts = re.split(r"\{([A-Za-z_][A-Za-z0-9_]*)\}", template)
    out = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>[^/]+)"
                  for i, p in enumerate(parts))
    return re.compile(f"^{out}$")


def compile_routes(spec: t.Any, resolve: t.Callable[[str], Handler | None],
                   body_schema: t.Callable[[dict], BodySchema]) -> list[HotRoute]:
    """The creating POSTs of the contract that `resolve` binds to a handler and whose
    shape the hot path knows (one OAuth2 requirement, a required JSON body, header and
    path parameters only); every other operation stays with connexion alone."""
    routes = []
    for template, item in spec["paths"].items():
        op = item.get("post")
        if not op or "operationId" not in op:
            continue
        handler = resolve(op["operationId"])
        security = op.get("security", spec.get("security"))
        body = (op.get("requestBody") or {})
        content = body.get("content") or {}
        params = [*item.get("parameters", []), *op.get("parameters", [])]
        if handler is None or not body.get("required") or list(content) != ["application/json"] \
                or not security or len(security) != 1 or list(security[0]) != ["oauth2"] \
                or any(p["in"] not in ("header", "path") for p in params):
            continue
        headers = tuple((p["name"].lower().encode(), bool(p.get("required")),
                         jsonschema_rs.validator_for(p.get("schema", {})))
                        for p in params if p["in"] == "header")
        path_params = tuple((p["name"], jsonschema_rs.validator_for(p.get("schema", {})))
                            for p in params if p["in"] == "path")
        routes.append(HotRoute(
            op["operationId"], path_pattern(template), frozenset(security[0]["oauth2"]),
            headers, path_params, body_schema(content["application/json"]["schema"]),
            handler))
    return routes


class HotRoutes:
    """ASGI middleware in front of connexion (inside the edge, the audit and the hub's
    context): serves the compiled routes, passes everything else on."""

    def __init__(self, app: ASGIApp, routes: list[HotRoute], verifier: TokenVerifier,
                 limiter: t.Any, call: t.Callable[[dict, str | None, Scope], t.Any],
                 error_handlers: list[tuple[type[Exception] | tuple, ErrorHandler]]):
        """`call(claims, idempotency_key, scope)` builds what the handlers take;
        `error_handlers` are the app's own, so that a handler's error is answered as
        connexion would."""
        self.app = app
        self.routes = routes
        self.verifier = verifier
        self.limiter = limiter
        self.call = call
        self.error_handlers = error_handlers
        self.jsonifier = FastJsonifier()

    def _route(self, path: str) -> tuple[HotRoute, dict[str, str]] | None:
        for route in self.routes:
            match = route.path.match(path)
            if match:
                return route, match.groupdict()
        return None

    def _accepts(self, route: HotRoute, params: dict[str, str],
                 headers: dict[bytes, bytes]) -> dict | None:
        """The token's claims when everything but the body passes as the contract says."""
        ctype = headers.get(b"content-type")
        auth = headers.get(b"authorization", b"")
        if ctype is None or not _JSON.match(ctype) or not auth.startswith(b"Bearer "):
            return None
        for name, required, validator in route.headers:
            value = headers.get(name)
            if value is None:
                if required:
                    return None
            elif not validator.is_valid(value.decode("latin-1")):
                return None
        if any(not validator.is_valid(params[name]) for name, validator in route.path_params):
            return None
        try:
            claims = self.verifier.verify(auth[7:].decode("latin-1").strip())
        except InvalidToken:
            return None
        if not route.scopes <= set(claims.get("scope", "").split()):
            return None
        return claims

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope.get("query_string"):
            await self.app(scope, receive, send)
            return
        found = self._route(scope["path"])
        if found is None:
            await self.app(scope, receive, send)
            return
        route, params = found
        headers: dict[bytes, bytes] = {}
        for name, value in scope.get("headers") or []:
            headers.setdefault(name, value)  # a repeated header: its first, as connexion
        claims = self._accepts(route, params, headers)
        if claims is None:
            HOT_ROUTES.labels("passed").inc()
            await self.app(scope, receive, send)
            return
        messages, raw, whole = await _read(receive, INLINE_BYTES)
        body = None
        if whole and raw.strip():
            try:
                body = parse_json(raw)
            except Problem:
                body = None
        if body is None or not route.body.valid(body):
            HOT_ROUTES.labels("passed").inc()
            await self.app(scope, _replay(messages, receive), send)
            return
        HOT_ROUTES.labels("served").inc()
        extensions = scope.setdefault("extensions", {})
        extensions[CLAIMS] = claims
        extensions[OPERATION] = route.operation_id
        try:
            wait = self.limiter.take(claims["client_id"]) if self.limiter else 0.0
            if wait:
                raise too_many_requests("this client's rate limit is reached", wait)
            answer = await route.handler(
                self.call(claims, _header(headers, b"idempotency-key"), scope), params, body)
            response = self._response(answer)
        except Exception as exc:  # noqa: BLE001 - answered as connexion's handlers do
            response = self._error(scope, receive, exc)
        await response(scope, receive, send)

    def _response(self, answer: tuple[t.Any, int, dict[str, str]]) -> Response:
        data, status, headers = answer
        return Response(content=self.jsonifier.dumps(data), status_code=status,
                        headers=headers)

    def _error(self, scope: Scope, receive: Receive, exc: Exception) -> Response:
        request = ConnexionRequest(scope, receive)
        for kinds, handler in self.error_handlers:
            if isinstance(exc, kinds):
                answer = handler(request, exc)
                break
        else:
            answer = ExceptionMiddleware.common_error_handler(request, exc)
        return Response(content=answer.body, status_code=answer.status_code,
                        media_type=answer.mimetype, headers=answer.headers)


def _header(headers: dict[bytes, bytes], name: bytes) -> str | None:
    value = headers.get(name)
    return None if value is None else value.decode("latin-1")


async def _read(receive: Receive, limit: int) -> tuple[list[Message], bytes, bool]:
    """The messages received, the body they carry, and whether that is the whole body —
    not when it is larger than `limit` (left to connexion, which reads large bodies off
    the event loop) or the client went away."""
    messages: list[Message] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        size += len(message.get("body", b""))
        if not message.get("more_body", False):
            body = b"".join(m.get("body", b"") for m in messages)
            return messages, body, True
        if size >= limit:
            break
    return messages, b"", False


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """`receive` for the next layer: what was received already, then the rest."""
    pending = list(messages)

    async def replay() -> Message:
        return pending.pop(0) if pending else await receive()

    return replay
