"""RFC 9457 problem details. Every error the hub answers is one of these."""

from __future__ import annotations

import math
from typing import Any

from connexion.exceptions import ProblemException

PROBLEM_BASE = "https://vigie.gouv.fr/problems/"
SLUGS = {400: "bad-request", 401: "unauthorized", 403: "forbidden", 404: "not-found",
         405: "method-not-allowed", 409: "conflict", 410: "gone", 411: "length-required",
         413: "payload-too-large", 415: "unsupported-media-type", 422: "invalid-request",
         429: "too-many-requests", 503: "unavailable"}


class Problem(ProblemException):
    """A client-visible error; `errors` lists each invalid field as {field, message}."""

    def __init__(self, status: int, title: str, detail: str | None = None, *,
                 errors: list[dict[str, str]] | None = None, headers: dict | None = None,
                 kind: str | None = None):
        ext: dict[str, Any] = {}
        if errors is not None:
            ext["errors"] = errors
        super().__init__(status=status, title=title, detail=detail,
                         type=PROBLEM_BASE + (kind or SLUGS.get(status, "error")),
                         headers=headers, ext=ext or None)


def not_found(what: str = "item") -> Problem:
    """Also the answer for another organisation's items: their existence is not disclosed."""
    return Problem(404, "Not Found", f"no such {what}")


def invalid(errors: list[dict[str, str]], detail: str | None = None) -> Problem:
    return Problem(422, "Invalid request",
                   detail or f"{len(errors)} invalid field(s)", errors=errors)


def invalid_parameters(errors: list[dict[str, str]]) -> Problem:
    """Query, path or header parameters the contract refuses, each listed."""
    return Problem(400, "Invalid parameters", f"{len(errors)} invalid parameter(s)",
                   errors=errors)


def too_many_requests(detail: str, wait_seconds: float) -> Problem:
    return Problem(429, "Too Many Requests", detail,
                   headers={"Retry-After": str(max(1, math.ceil(wait_seconds)))})


def overloaded() -> Problem:
    """The hub is at capacity: refused at once, nothing written; retry with the same
    Idempotency-Key."""
    return Problem(503, "Service Unavailable",
                   "the hub is at capacity; retry with the same Idempotency-Key",
                   headers={"Retry-After": "1"})
