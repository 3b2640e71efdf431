"""GET /v1/feed: the caller organisation's delivered messages, after a cursor."""

from __future__ import annotations

from connexion import context

from ..exchanges.views import mark_retrieved
from ..http import json_body
from ..hub import current_hub
from ..problems import invalid
from . import kafka_access, service


def read(after: str = "0", limit: int = 100):
    org_id = context.context["token_info"]["org"]
    if not after.isdigit() or len(after) > 18:
        raise invalid([{"field": "query:after", "message": "not a cursor this API gave"}])
    hub = current_hub()
    with hub.db.sessions() as session:
        items = service.read(session, org_id, int(after), limit)
    resources = [service.to_resource(i) for i in items]
    mark_retrieved(hub, [i.item_id for i in items if i.event_type.endswith(".submitted")])
    return json_body({"items": resources,
                      "next": resources[-1]["cursor"] if resources else after})


def kafka() -> tuple:
    """How the caller's organisation consumes its own topic directly."""
    org_id = context.context["token_info"]["org"]
    return json_body(kafka_access.connection_info(current_hub().settings, org_id))
