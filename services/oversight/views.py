"""GET /v1/oversight/...: what ARCOM (and the operators) need for DSA reporting."""

from __future__ import annotations

from datetime import datetime

from ..db import utcnow
from ..http import json_body
from ..hub import current_hub
from ..problems import invalid
from . import service


def _window(since: str | None, until: str | None) -> tuple[datetime | None, datetime | None]:
    bounds = []
    for name, value in (("since", since), ("until", until)):
        if value is None:
            bounds.append(None)
            continue
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise invalid([{"field": f"query:{name}",
                            "message": "must be an RFC 3339 date-time"}]) from None
        if parsed.tzinfo is None:
            raise invalid([{"field": f"query:{name}", "message": "must carry a time zone"}])
        if not 1970 <= parsed.year <= 9998:
            raise invalid([{"field": f"query:{name}",
                            "message": "must be between 1970 and 9998"}])
        bounds.append(parsed)
    return bounds[0], bounds[1]


def platforms(since: str | None = None, until: str | None = None):
    start, end = _window(since, until)
    with current_hub().db.sessions() as session:
        rows = service.platforms(session, utcnow(), start, end)
    return json_body({"since": since, "until": until, "platforms": rows})


def trusted_flaggers(since: str | None = None, until: str | None = None):
    start, end = _window(since, until)
    with current_hub().db.sessions() as session:
        rows = service.trusted_flaggers(session, start, end)
    return json_body({"since": since, "until": until, "trusted_flaggers": rows})


def notices(since: str | None = None, until: str | None = None):
    start, end = _window(since, until)
    with current_hub().db.sessions() as session:
        rows = service.notices_breakdown(session, start, end)
    return json_body({"since": since, "until": until, "notices": rows})
