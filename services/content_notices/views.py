"""GET /v1/content-notices/{id}/statement-of-reasons: the decision as the Transparency
Database takes it, for the two parties and the regulator."""

from __future__ import annotations

import json

from connexion import context

from ..exchanges.service import Caller, get_visible, steps_of
from ..http import json_body
from ..hub import current_hub
from ..problems import Problem, not_found
from .rules import EXCHANGE
from .statement import transparency_statement


def statement_of_reasons(id: str):  # noqa: A002
    caller = Caller.from_claims(context.context["token_info"])
    if EXCHANGE.read_scope not in caller.scopes:
        raise not_found("content notice")
    with current_hub().db.reads() as conn:
        item = get_visible(conn, EXCHANGE, caller, id)
        steps = steps_of(conn, [item.id])[item.id]
    bodies = {s.action: json.loads(s.body) for s in steps}
    decision = bodies.get("decision")
    if decision is None or decision.get("outcome") != "restricted" or \
            json.loads(item.content).get("redacted"):
        raise Problem(409, "Conflict", "this notice has no statement of reasons: it is not "
                      "decided, its decision restricts nothing, or it was erased",
                      kind="invalid-state")
    return json_body(transparency_statement(decision, bodies.get("publication")))
