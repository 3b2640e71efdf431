"""GET /v1/statistics: JSON, or CSV for a spreadsheet (`format=csv` or Accept: text/csv)."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

from connexion import request

from ..db import utcnow
from ..exchanges.registry import EXCHANGES
from ..http import json_body
from ..hub import current_hub
from ..problems import invalid
from . import service


def _day(name: str, value: str | None, default: date) -> tuple[date, list[dict]]:
    if value is None:
        return default, []
    try:
        return date.fromisoformat(value), []
    except ValueError:
        return default, [{"field": f"query:{name}", "message": "must be a date (YYYY-MM-DD)"}]


def query_of(since: str | None, until: str | None, exchange: list[str] | None,
             by: list[str] | None, period: str) -> service.Query:
    """The query the parameters ask for; a 400 problem listing every wrong one. The
    contract checks names and enums for the API; the console's form is checked here."""
    today = utcnow().date()
    start, errors = _day("since", since, date(today.year - 1, today.month, 1))
    end, more = _day("until", until, today + timedelta(days=1))
    errors += more
    if not errors and end <= start:
        errors.append({"field": "query:until", "message": "must be after since"})
    if not errors and (end - start).days > 3700:
        errors.append({"field": "query:until", "message": "ten years at most"})
    by = list(dict.fromkeys(by or []))
    errors += [{"field": "query:by", "message": f"unknown dimension {d!r}"}
               for d in by if d not in service.DIMENSIONS]
    if len(by) > 4:
        errors.append({"field": "query:by", "message": "four dimensions at most"})
    errors += [{"field": "query:exchange", "message": f"unknown exchange {e!r}"}
               for e in exchange or [] if e not in EXCHANGES]
    if period not in service.PERIODS:
        errors.append({"field": "query:period",
                       "message": f"one of {', '.join(service.PERIODS)}"})
    if errors:
        raise invalid(errors)
    return service.Query(start, end, tuple(exchange or EXCHANGES), tuple(by), period)


def as_csv(result: dict) -> str:
    """The rows as a spreadsheet reads them: a withheld count is empty."""
    by = result["by"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["period", "exchange", *by, "count", "suppressed"])
    for row in result["rows"]:
        writer.writerow([row["period"], row["exchange"], *(row[d] for d in by),
                         "" if row["count"] is None else row["count"],
                         "true" if row["suppressed"] else "false"])
    return out.getvalue()


CSV_HEADERS = {"Content-Type": "text/csv; charset=utf-8",
               "Content-Disposition": 'attachment; filename="vigie-statistics.csv"'}


def statistics(since: str | None = None, until: str | None = None,
               exchange: list[str] | None = None, by: list[str] | None = None,
               period: str = "month", format: str | None = None):  # noqa: A002
    query = query_of(since, until, exchange, by, period)
    hub = current_hub()
    with hub.db.reads() as conn:
        result = service.compute(conn, query, hub.settings.statistics_threshold)
    wants_csv = format == "csv" or (format is None and "text/csv" in
                                    request.headers.get("accept", ""))
    if not wants_csv:
        return json_body(result)
    return as_csv(result), 200, CSV_HEADERS
