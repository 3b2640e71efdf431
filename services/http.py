"""The HTTP edge: strict JSON bodies validated against the OpenAPI contract with every
error listed, a body size limit, and request metrics."""

from __future__ import annotations

import json
import logging
import math
import re
import time
import typing as t
import uuid
from datetime import date
from http import HTTPStatus

import anyio
import jsonschema_rs
from connexion.json_schema import Draft4RequestValidator
from connexion.jsonifier import JSONEncoder, Jsonifier
from connexion.lifecycle import ConnexionRequest
from connexion.problem import problem
from connexion.utils import is_null, is_nullable
from connexion.validators import JSONRequestBodyValidator, ParameterValidator
from jsonschema import Draft4Validator, FormatChecker, ValidationError, validators
from rfc3339_validator import validate_rfc3339
from starlette.types import ASGIApp, Receive, Scope, Send

from schemas.jsontext import dumps

from . import tracing
from .logs import bind_contextvars
from .metrics import HTTP_LATENCY, HTTP_REQUESTS, OVERLOAD_REFUSALS, RATE_LIMITED
from .problems import PROBLEM_BASE, SLUGS, Problem, invalid, invalid_parameters

log = logging.getLogger(__name__)
ARRIVED = "vigie.arrived"
# The request's id: the caller's X-Request-Id when it is a plain token, a new one
# otherwise; echoed in the answer, named in every problem (`instance`), the audit entry
# and the logs, so that one request can be followed across the caller's systems and ours.
REQUEST_ID = "vigie.request_id"
_REQUEST_ID = re.compile(rb"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
OPERATION = "vigie.operation"  # the operation id, when the hot routes served the request
_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")
FORMATS = FormatChecker(formats=())


@FORMATS.checks("date", raises=ValueError)
def _is_date(value: object) -> bool:
    return not isinstance(value, str) or bool(_DATE.match(value) and date.fromisoformat(value))


@FORMATS.checks("date-time")
def _is_datetime(value: object) -> bool:
    return not isinstance(value, str) or validate_rfc3339(value)


@FORMATS.checks("email")
def _is_email(value: object) -> bool:
    return not isinstance(value, str) or bool(_EMAIL.match(value))


def _join(path: list) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _message(err) -> str:
    """A short message that never echoes the value; the contract may give its own
    (`x-message` beside a pattern)."""
    v, val = err.validator, err.validator_value
    if v == "pattern" and isinstance(err.schema, dict) and "x-message" in err.schema:
        return err.schema["x-message"]
    messages = {
        "type": lambda: f"must be of type {val}",
        "maxLength": lambda: f"must be at most {val} characters",
        "minLength": lambda: (f"must be at least {val} characters" if val > 1
                              else "must not be empty"),
        "maxItems": lambda: f"must have at most {val} items",
        "minItems": lambda: f"must have at least {val} items",
        "enum": lambda: "must be one of " + ", ".join(map(str, val)),
        "pattern": lambda: "does not have the expected format",
        "format": lambda: f"must be a valid {val}",
        "maximum": lambda: f"must be at most {val}",
        "minimum": lambda: f"must be at least {val}",
        "uniqueItems": lambda: "must not repeat items",
        "maxProperties": lambda: f"must have at most {val} members",
    }
    return messages[v]() if v in messages else err.message[:200]


MAX_ERRORS = 100
INLINE_BYTES = 16 * 1024  # bodies parsed on the event loop; larger ones in a thread


def field_errors(validator, body: t.Any) -> list[dict[str, str]]:
    """Every schema violation as {field, message}, once each, sorted by field — at most
    MAX_ERRORS of them (then one line saying there are more)."""
    errors: list[dict[str, str]] = []
    more = False
    for err in validator.iter_errors(body):
        if len(errors) >= MAX_ERRORS:
            more = True
            break
        path = list(err.absolute_path)
        if err.validator == "required" and isinstance(err.instance, dict):
            errors += [{"field": _join([*path, name]), "message": "required"}
                       for name in err.validator_value if name not in err.instance]
        elif err.validator == "additionalProperties" and isinstance(err.instance, dict):
            known = set(err.schema.get("properties", {}))
            errors += [{"field": _join([*path, name]), "message": "unknown field"}
                       for name in err.instance if name not in known]
        else:
            errors.append({"field": _join(path) or "(body)", "message": _message(err)})
    unique = {(e["field"], e["message"]): e for e in errors}
    listed = sorted(unique.values(), key=lambda e: (e["field"], e["message"]))[:MAX_ERRORS]
    if more:
        listed.append({"field": "(body)", "message": f"more than {MAX_ERRORS} invalid "
                                                     "fields; the first are listed"})
    return listed


def _identity(value: t.Any) -> t.Any:
    """A hashable value equal for equal JSON values (1 == 1.0; true is not 1)."""
    if isinstance(value, bool) or value is None:
        return ("b", value)
    if isinstance(value, int | float):
        return ("n", int(value) if isinstance(value, float) and value.is_integer() else value)
    if isinstance(value, str):
        return ("s", value)
    if isinstance(value, list):
        return ("l", tuple(_identity(v) for v in value))
    if isinstance(value, dict):
        return ("o", frozenset((k, _identity(v)) for k, v in value.items()))
    return ("?", repr(value))


def _unique_items(validator, unique, instance, schema):
    """uniqueItems in one pass with a set: jsonschema compares pairs (O(n²)) when items
    mix types, which let one request hold an API process for minutes."""
    if not unique or not validator.is_type(instance, "array"):
        return
    seen: set = set()
    for item in instance:
        key = _identity(item)
        if key in seen:
            yield ValidationError("has non-unique elements")
            return
        seen.add(key)


_ReferenceValidator = validators.extend(Draft4RequestValidator,
                                        {"uniqueItems": _unique_items})


def _fast_format(check: t.Callable[[object], bool]) -> t.Callable[[str], bool]:
    def fast(value: str) -> bool:
        try:
            return bool(check(value))
        except ValueError:
            return False
    return fast


_FAST_FORMATS = {"date": _fast_format(_is_date), "date-time": _fast_format(_is_datetime),
                 "email": _fast_format(_is_email)}


class BodySchema:
    """One request body schema, checked twice as fast as it is listed: a compiled
    validator (Rust, microseconds) answers "valid" for the bodies that are, and only a
    refused body pays for jsonschema, which lists every invalid field. The compiled path
    can only accept: when it refuses and jsonschema finds nothing, jsonschema wins (a
    differential test over generated and mutated bodies keeps the two in step)."""

    def __init__(self, schema: dict) -> None:
        self.reference = _ReferenceValidator(schema, format_checker=FORMATS)
        self.fast = jsonschema_rs.Draft4Validator(schema, formats=_FAST_FORMATS,
                                                  validate_formats=True)

    def valid(self, body: t.Any) -> bool:
        return self.fast.is_valid(body)

    def listed(self, body: t.Any) -> list[dict[str, str]]:
        """What is wrong with a body `valid` refused (possibly nothing: jsonschema wins)."""
        return field_errors(self.reference, body)

    def errors(self, body: t.Any) -> list[dict[str, str]]:
        return [] if self.valid(body) else self.listed(body)


def _no_duplicates(pairs: list[tuple[str, t.Any]]) -> dict:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise ValueError("duplicate member name")
    return obj


def _no_constant(name: str) -> t.NoReturn:
    raise ValueError(f"{name} is not JSON")


def parse_json(raw: bytes) -> t.Any:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Problem(400, "Malformed body", "the body is not valid UTF-8") from None
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise Problem(400, "Malformed body", f"the body is not valid JSON: {exc}"[:300]) from None


class BodySchemas:
    """Each body schema compiled once (they are the contract's: a bounded set)."""

    def __init__(self) -> None:
        self._compiled: dict[int, tuple[dict, BodySchema]] = {}

    def of(self, schema: dict) -> BodySchema:
        key = id(schema)
        if key not in self._compiled:
            # The schema is kept with its compiled form, so that its id is never reused.
            self._compiled[key] = (schema, BodySchema(schema))
        return self._compiled[key][1]


def make_body_validator(max_body_bytes: int,
                        schemas: BodySchemas) -> type[JSONRequestBodyValidator]:
    """A JSON body validator bound to this app's size limit."""

    class StrictJSONBodyValidator(JSONRequestBodyValidator):
        @property
        def _body_schema(self) -> BodySchema:
            return schemas.of(self._schema)

        async def _parse(self, stream, scope):
            """Read (bounded), parse and validate. What can take more than a moment — a
            large body's parse, listing what is wrong with a refused one — runs in a
            thread, so that no request holds the event loop."""
            chunks, size = [], 0
            async for chunk in stream:
                size += len(chunk)
                if size > max_body_bytes:
                    raise Problem(413, "Payload too large",
                                  f"bodies are limited to {max_body_bytes} bytes")
                chunks.append(chunk)
            raw = b"".join(chunks)
            if not raw.strip():
                return None
            body = (parse_json(raw) if size < INLINE_BYTES
                    else await anyio.to_thread.run_sync(parse_json, raw))
            schema = self._body_schema
            if not schema.valid(body):
                errors = await anyio.to_thread.run_sync(schema.listed, body)
                if errors:
                    raise invalid(errors)
            return body

        def _validate(self, body):
            """Only the missing body is left to check (see _parse)."""
            if body is None and not self._nullable:
                raise Problem(400, "Malformed body", "a JSON body is required")
            return None

    return StrictJSONBodyValidator


class StrictParameterValidator(ParameterValidator):
    """Lists every invalid or unknown parameter instead of stopping at the first."""

    # Each parameter schema's validator, kept with its schema so that its id is never
    # reused by another (as BodySchemas does for bodies).
    _validators: t.ClassVar[dict[int, tuple[dict, Draft4Validator]]] = {}

    @staticmethod
    def validate_parameter(parameter_type, value, param, param_name=None):
        """As connexion's, but with the hub's formats (connexion's draft-4 checker lets
        any `date` through) and messages that never echo the value."""
        if value is None:
            return "required" if param.get("required") else None
        if is_nullable(param) and is_null(value):
            return None
        schema = param.get("schema", param)
        cache = StrictParameterValidator._validators
        if id(schema) not in cache:
            cache[id(schema)] = (schema, Draft4Validator(schema, format_checker=FORMATS))
        validator = cache[id(schema)][1]
        error = next(iter(validator.iter_errors(value)), None)
        return None if error is None else _message(error)

    def validate_request(self, request) -> None:
        errors: list[dict[str, str]] = []
        if self.strict_validation:
            unknown = self.validate_query_parameter_list(
                request, security_params=self.security_query_params)
            errors += [{"field": f"query:{name}"[:100], "message": "unknown parameter"}
                       for name in sorted(unknown)]
        checks = (("query", self.validate_query_parameter), ("path", self.validate_path_parameter),
                  ("header", self.validate_header_parameter))
        for location, check in checks:
            for param in self.parameters.get(location, []):
                error = check(param, request)
                if error:
                    message = error.splitlines()[0]
                    errors.append({"field": f"{location}:{param['name']}",
                                   "message": message if len(message) <= 200
                                   else message[:200] + "…"})
        if errors:
            raise invalid_parameters(errors)


def request_id(scope: Scope) -> str | None:
    return (scope.get("extensions") or {}).get(REQUEST_ID)


def instance_of(scope: Scope) -> str | None:
    """A problem's `instance`: this occurrence, named by the request's id."""
    rid = request_id(scope)
    return None if rid is None else f"urn:vigie:request:{rid}"


def normalise_problem(request: ConnexionRequest, exc: Exception):
    """Give connexion's and the framework's own errors (401, 403, 404, 405, 415...) the
    hub's problem types."""
    status = getattr(exc, "status_code", 500)
    given = getattr(exc, "type", None)
    kind = given if given and given != "about:blank" else PROBLEM_BASE + SLUGS.get(status, "error")
    title = getattr(exc, "title", None) or HTTPStatus(status).phrase
    return problem(status=status, title=title, detail=getattr(exc, "detail", None), type=kind,
                   instance=getattr(exc, "instance", None) or instance_of(request.scope),
                   headers=getattr(exc, "headers", None), ext=getattr(exc, "ext", None))


def database_unavailable(request: ConnexionRequest, exc: Exception):
    """The database is away (restarting, failing over): nothing was committed, and the
    client may retry with the same Idempotency-Key — a 503, never a 500."""
    log.warning("database unavailable: %s", str(exc).splitlines()[0][:200])
    return problem(status=503, title="Service Unavailable",
                   detail="the database is unavailable; retry with the same Idempotency-Key",
                   type=PROBLEM_BASE + SLUGS[503], headers={"Retry-After": "1"},
                   instance=instance_of(request.scope))


def _problem_response(status: int, title: str, detail: str, slug: str,
                      instance: str | None) -> bytes:
    body = {"type": PROBLEM_BASE + slug, "title": title, "status": status, "detail": detail}
    if instance:
        body["instance"] = instance
    return json.dumps(body).encode()


class EdgeMiddleware:
    """Outermost layer: refuses oversized bodies early and records request metrics.

    It runs outside connexion's exception handling, so it answers errors itself.
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int, max_in_flight: int = 192,
                 address_limiter: t.Any = None, body_limits: dict[str, int] | None = None,
                 deprecations: dict[str, list[tuple[bytes, bytes]]] | None = None):
        self.app = app
        # Deprecation, Sunset and Link headers of the operations the contract withdraws.
        self.deprecations = deprecations or {}
        self.max_body_bytes = max_body_bytes
        # Paths whose bodies are files (streamed by their handler), with their own limit.
        self.body_limits = body_limits or {}
        self.max_in_flight = max_in_flight
        self.in_flight = 0
        # Before any authentication: a flood from one address is refused here, cheaply.
        self.address_limiter = address_limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status_holder = {"status": 500}
        # Shared with the copies of the scope inner layers make, so that connexion's
        # routing (the operation id, a bounded label) is visible here afterwards, and the
        # arrival time to the handler (how long the request waited for a thread).
        scope.setdefault("extensions", {})[ARRIVED] = time.monotonic()
        headers = dict(scope.get("headers") or [])
        given = headers.get(b"x-request-id")
        rid = (given if given is not None and _REQUEST_ID.match(given)
               else uuid.uuid4().hex.encode())
        scope["extensions"][REQUEST_ID] = rid.decode()
        bind_contextvars(request_id=scope["extensions"][REQUEST_ID])  # in this request's logs
        length = headers.get(b"content-length")
        refusal = None
        wait = 0.0
        path = scope.get("path", "")
        limit = self.body_limits.get(path, self.max_body_bytes)
        if self.address_limiter is not None and (path.startswith("/v1/") or
                                                 path == "/oauth/token"):
            wait = self.address_limiter.take((scope.get("client") or ("?",))[0])
        if wait:
            RATE_LIMITED.inc()
            refusal = (429, "Too Many Requests", "too many requests from this address",
                       "too-many-requests")
        elif self.in_flight >= self.max_in_flight and path.startswith("/v1/"):
            # At capacity: answered at once rather than queued until the client gives up.
            OVERLOAD_REFUSALS.labels("in_flight").inc()
            refusal = (503, "Service Unavailable",
                       "the hub is at capacity; retry with the same Idempotency-Key",
                       "unavailable")
        elif any(ord(c) < 0x20 or ord(c) == 0x7F for c in scope.get("path", "")):
            # Routing and the framework disagree on such paths; no id contains them.
            refusal = (400, "Bad Request", "the path contains control characters",
                       "bad-request")
        elif length is not None and (not length.isdigit() or int(length) > limit):
            refusal = (413, "Payload too large",
                       f"bodies are limited to {limit} bytes", "payload-too-large")
        elif length is None and b"transfer-encoding" in headers:
            # connexion reads a body only when its length is declared.
            refusal = (411, "Length required", "send the body with a Content-Length header",
                       "length-required")
        if refusal is not None:
            status = refusal[0]
            body = _problem_response(*refusal, instance_of(scope))
            headers = [(b"content-type", b"application/problem+json"),
                       (b"content-length", str(len(body)).encode()), (b"x-request-id", rid)]
            if status == 503:
                headers.append((b"retry-after", b"1"))
            elif status == 429:
                headers.append((b"retry-after", str(max(1, math.ceil(wait))).encode()))
            else:
                headers.append((b"connection", b"close"))
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            self._observe(scope, status, started)
            return

        async def send_(message):
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                added = [(b"x-request-id", rid)]
                if self.deprecations:
                    added += self.deprecations.get(operation_id(scope) or "", ())
                message = {**message, "headers": [*message.get("headers", ()), *added]}
            await send(message)

        self.in_flight += 1
        try:
            if tracing.enabled():
                await self._traced(scope, receive, send_, headers, status_holder)
            else:
                await self.app(scope, receive, send_)
        finally:
            self.in_flight -= 1
            self._observe(scope, status_holder["status"], started)

    async def _traced(self, scope: Scope, receive: Receive, send: Send,
                      headers: dict[bytes, bytes], status_holder: dict[str, int]) -> None:
        """The request as a server span: a child of the caller's `traceparent` if it sent
        one, named after the operation once routed."""
        method = scope.get("method", "GET")
        parent = headers.get(b"traceparent")
        with tracing.span(f"{method} {scope.get('path', '')[:100]}", tracing.SpanKind.SERVER,
                          parent=parent.decode("latin-1") if parent else None, **{
                              "http.request.method": method,
                              "vigie.request_id": scope["extensions"][REQUEST_ID]}) as current:
            try:
                await self.app(scope, receive, send)
            finally:
                status = status_holder["status"]
                if route := operation_id(scope):
                    current.update_name(f"{method} {route}")
                    current.set_attribute("http.route", route)
                current.set_attribute("http.response.status_code", status)
                if status >= 500:
                    tracing.fail(current, f"answered {status}")

    @staticmethod
    def _observe(scope: Scope, status: int, started: float) -> None:
        route = operation_id(scope) or "unmatched"
        method = scope.get("method", "GET")
        if method not in _METHODS:
            method = "OTHER"
        HTTP_REQUESTS.labels(method, route, str(status)).inc()
        HTTP_LATENCY.labels(method, route).observe(time.perf_counter() - started)


def operation_id(scope: Scope) -> str | None:
    """The contract's operation the request was routed to (by connexion or the hot
    routes), if any."""
    extensions = scope.get("extensions") or {}
    return extensions.get(OPERATION) or (extensions.get("connexion_routing") or {}).get(
        "operation_id")


def waited(scope: Scope) -> float:
    """Seconds since the request reached the hub."""
    return time.monotonic() - (scope.get("extensions") or {}).get(ARRIVED, time.monotonic())


class FastJsonifier(Jsonifier):
    """connexion's answers written by orjson (what connexion's encoder does for dates
    and other types is kept as the fallback)."""

    _default = JSONEncoder().default

    def dumps(self, data, **kwargs):
        return dumps(data, default=self._default) + "\n"


def json_body(body: t.Any, status: int = 200, headers: dict | None = None):
    """A handler answer; the content type is explicit because operations also declare
    application/problem+json."""
    return body, status, {"Content-Type": "application/json", **(headers or {})}
