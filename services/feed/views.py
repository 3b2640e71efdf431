"""GET /v1/feed: the caller organisation's delivered messages, after a cursor."""

from __future__ import annotations

from connexion import context
from starlette.responses import Response

from ..db import utcnow
from ..exchanges.service import retrieval as retrieval_of
from ..exchanges.views import commit_retrieval
from ..http import json_body
from ..hub import current_hub
from ..problems import invalid
from . import kafka_access, service


def read(after: str = "0", limit: int = 100):
    org_id = context.context["token_info"]["org"]
    if not (after.isascii() and after.isdigit()) or len(after) > 18:
        raise invalid([{"field": "query:after", "message": "not a cursor this API gave"}])
    hub = current_hub()
    with hub.db.reads() as conn:
        rows = service.read(conn, org_id, int(after), limit)
        retrieval = retrieval_of(conn, hub.settings, [
            r.item_id for r in rows if r.event_type.endswith(".submitted")], utcnow())
    commit_retrieval(hub, retrieval)
    return Response(service.page_text(rows, after), 200, media_type="application/json")


def kafka() -> tuple:
    """How the caller's organisation consumes its own topic directly."""
    org_id = context.context["token_info"]["org"]
    return json_body(kafka_access.connection_info(current_hub().settings, org_id))
