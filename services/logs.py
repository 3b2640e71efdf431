"""Logs as JSON lines, one object per event (structlog rendering the standard library's
records): time, level, logger, event, and the request's id when the event happened
while serving one — the same id the caller sent or got back (X-Request-Id), the problem
named and the audit entry holds. `VIGIE_LOG_FORMAT=text` for people reading a terminal."""

from __future__ import annotations

import functools
import json
import logging
import os

import structlog
from structlog.contextvars import bind_contextvars, merge_contextvars

__all__ = ["bind_contextvars", "configure"]

QUIET = {"kafka": logging.WARNING, "alembic": logging.WARNING, "httpx": logging.WARNING}


def configure(fmt: str | None = None, level: int = logging.INFO) -> None:
    """Route every logger of the process through one JSON (or text) handler on stderr."""
    fmt = fmt or os.environ.get("VIGIE_LOG_FORMAT", "json")
    shared = [merge_contextvars, structlog.stdlib.add_log_level,
              structlog.stdlib.add_logger_name,
              structlog.processors.TimeStamper(fmt="iso", utc=True)]
    renderer = (structlog.dev.ConsoleRenderer(colors=False) if fmt == "text"
                else structlog.processors.JSONRenderer(
                    serializer=functools.partial(json.dumps, ensure_ascii=False)))
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info, renderer])
    handler = logging.StreamHandler()
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name, quiet in QUIET.items():
        logging.getLogger(name).setLevel(quiet)
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(), cache_logger_on_first_use=True)
