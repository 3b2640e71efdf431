"""The log over HTTP: the pinned key set, checkpoints, consistency proofs for witnesses,
inclusion proofs for the leaves of the caller's own items and audit entries (a proof
shows hashes, never another party's content; any other leaf is 404)."""

from __future__ import annotations

import json

from connexion import context
from sqlalchemy import select

from ..audit.models import AuditEntry
from ..evidence.models import Evidence
from ..exchanges.models import Item
from ..http import json_body
from ..hub import current_hub
from ..problems import invalid_parameters, not_found
from . import service
from .keys import key_set


def keys():
    hub = current_hub()
    with hub.db.sessions() as session:
        return json_body(key_set(session, hub.settings.log_origin, hub.settings.issuer))


def _latest(conn):
    row = service.latest(conn)
    if row is None:
        raise not_found("checkpoint")
    return row


def checkpoint(size: int | None = None):
    with current_hub().db.reads() as conn:
        row = _latest(conn) if size is None else service.checkpoint_of_size(conn, size)
        if row is None:
            raise not_found("checkpoint")
        return json_body(service.checkpoint_resource(row))


def consistency(first: int, second: int | None = None):
    with current_hub().db.reads() as conn:
        latest = _latest(conn)
        second = latest.size if second is None else second
        errors = []
        if second > latest.size:
            errors.append({"field": "query:second",
                           "message": f"must be at most the latest size ({latest.size})"})
        if first > second:
            errors.append({"field": "query:first", "message": "must be at most second"})
        if errors:
            raise invalid_parameters(errors)
        return json_body({"first": first, "second": second,
                          "hashes": service.consistency(conn, first, second)})


def inclusion(index: int, size: int | None = None):
    caller_org = context.context["token_info"]["org"]
    hub = current_hub()
    with hub.db.reads() as conn:
        latest = _latest(conn)
        size = latest.size if size is None else size
        leaf = service.leaf(conn, index)
        data = _visible_leaf(conn, leaf, caller_org) if leaf is not None else None
        if data is None:
            raise not_found("leaf")
        if not index < size <= latest.size:
            raise invalid_parameters([{"field": "query:size", "message":
                          f"must be above the leaf's index and at most {latest.size}"}])
        return json_body({"index": index, "size": size, "kind": leaf.kind, "leaf": data,
                          "hashes": service.inclusion(conn, index, size)})


def _visible_leaf(conn, leaf, org_id: str) -> dict | None:
    """The leaf's content when the caller's organisation is a party to it."""
    if leaf.kind == "audit":
        if leaf.org_id != org_id:
            return None
        entry = conn.execute(select(AuditEntry.__table__)
                             .where(AuditEntry.seq == leaf.ref)).mappings().first()
        return json.loads(service.audit_leaf(dict(entry)).data) if entry else None
    row = conn.execute(select(Evidence.claims, Item.sender_org, Item.recipient_org)
                       .join(Item, Item.id == Evidence.item_id)
                       .where(Evidence.log_index == leaf.idx)).first()
    if row is None or org_id not in (row.sender_org, row.recipient_org):
        return None
    return json.loads(row.claims)
