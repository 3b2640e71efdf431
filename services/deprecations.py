"""What the contract withdraws. An operation marked `deprecated: true` names the day it
was deprecated (`x-deprecated-since`) and the day it goes (`x-sunset`, which oasdiff also
reads: removing it earlier fails `make lint`), and optionally what replaces it
(`x-successor`). Every answer of such an operation says so: `Deprecation` (RFC 9745),
`Sunset` (RFC 8594) and `Link` headers, so that a client's logs show it long before."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from email.utils import format_datetime
from typing import Any

Headers = list[tuple[bytes, bytes]]
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


class DeprecationError(ValueError):
    """A deprecated operation the contract does not date: a spec error, found at start."""


def _day(value: Any, what: str, where: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise DeprecationError(f"{where}: {what} must be a date (YYYY-MM-DD)") from None


def deprecation_headers(spec: Mapping[str, Any]) -> dict[str, Headers]:
    """The headers each deprecated operation's answers carry, by operation id."""
    out: dict[str, Headers] = {}
    for path, item in (spec.get("paths") or {}).items():
        for method in METHODS:
            operation = item.get(method)
            if not isinstance(operation, dict) or not operation.get("deprecated"):
                continue
            where = f"{method.upper()} {path}"
            if "x-sunset" not in operation or "x-deprecated-since" not in operation:
                raise DeprecationError(f"{where} is deprecated: it needs x-deprecated-since "
                                       "and x-sunset")
            since = _day(operation["x-deprecated-since"], "x-deprecated-since", where)
            sunset = _day(operation["x-sunset"], "x-sunset", where)
            if sunset <= since:
                raise DeprecationError(f"{where}: x-sunset must follow x-deprecated-since")
            # Deprecated from the start of that day; gone at the end of the sunset day.
            start = datetime.combine(since, time(0), UTC)
            end = datetime.combine(sunset, time(23, 59, 59), UTC)
            headers = [(b"deprecation", f"@{int(start.timestamp())}".encode()),
                       (b"sunset", format_datetime(end, usegmt=True).encode())]
            if successor := operation.get("x-successor"):
                headers.append((b"link", f'<{successor}>; rel="successor-version"'.encode()))
            out[operation.get("operationId", where)] = headers
    return out
