"""Oversight figures, computed from the items and their decision steps.

Volumes are small (tens of thousands of notices a year), so the percentiles are
computed in Python, identically on SQLite and PostgreSQL — from the few columns they
need (never the messages' content), the decisions joined in the same query."""

from __future__ import annotations

import json
import math
import statistics
from collections import defaultdict
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..content_notices.rules import restrictions_applied
from ..exchanges.models import Item, ItemStep
from ..organisations.models import Organisation


def percentile(values: list[float], share: float) -> float | None:
    """Nearest-rank percentile (the smallest value with `share` of the values at or below)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def _window(query, since: datetime | None, until: datetime | None):
    if since:
        query = query.where(Item.created_at >= since)
    if until:
        query = query.where(Item.created_at < until)
    return query


def _items(session: Session, exchange: str, since: datetime | None, until: datetime | None,
           with_content: bool = False):
    columns = [Item.id, Item.sender_org, Item.recipient_org, Item.lane, Item.status,
               Item.created_at, Item.due_at] + ([Item.content] if with_content else [])
    return session.execute(_window(select(*columns).where(Item.exchange == exchange),
                                   since, until)).all()


def _steps(session: Session, exchange: str, action: str, since: datetime | None,
           until: datetime | None, with_body: bool = False) -> dict[str, object]:
    """The `action` step of each item of the window, by item id."""
    columns = [ItemStep.item_id, ItemStep.created_at] + ([ItemStep.body] if with_body else [])
    rows = session.execute(_window(
        select(*columns).join(Item, Item.id == ItemStep.item_id)
        .where(Item.exchange == exchange, ItemStep.action == action),
        since, until)).all()
    return {r.item_id: r for r in rows}


def _decisions(session: Session, since: datetime | None, until: datetime | None,
               with_body: bool = False) -> dict[str, object]:
    """The decision step of each notice of the window, by item id."""
    return _steps(session, "content-notices", "decision", since, until, with_body)


def platforms(session: Session, now: datetime, since: datetime | None = None,
              until: datetime | None = None) -> list[dict]:
    notices = _items(session, "content-notices", since, until)
    decisions = _decisions(session, since, until)
    orders = _items(session, "suspension-orders", since, until)
    executions = _steps(session, "suspension-orders", "execution", since, until)
    per: dict[str, dict] = defaultdict(lambda: {"received": 0, "decided": 0, "priority": 0,
                                                "times": [], "executed": 0, "impossible": 0,
                                                "overdue": 0, "served": 0})
    for notice in notices:
        figures = per[notice.recipient_org]
        figures["received"] += 1
        figures["priority"] += notice.lane == "priority"
        if notice.id in decisions:
            figures["decided"] += 1
            figures["times"].append(
                (decisions[notice.id].created_at - notice.created_at).total_seconds())
    for order in orders:
        figures = per[order.recipient_org]
        figures["served"] += 1
        # Executed, whatever came after (the term, a lifting); an order lifted before any
        # execution, then ended, is not (it has no execution step).
        figures["executed"] += (order.status in ("executed", "ended")
                                and order.id in executions)
        figures["impossible"] += order.status == "impossible"
        # Late to block, or late to unblock at the term or once lifted.
        figures["overdue"] += (order.status not in ("impossible", "ended")
                               and order.due_at is not None and order.due_at < now)
    platform_ids = set(session.scalars(select(Organisation.id)
                                       .where(Organisation.type == "platform")))
    out = []
    for org_id in sorted(platform_ids | set(per)):
        f = per[org_id]
        out.append({
            "platform": org_id,
            "notices_received": f["received"],
            "notices_decided": f["decided"],
            "median_seconds_to_decision": statistics.median(f["times"]) if f["times"] else None,
            "p90_seconds_to_decision": percentile(f["times"], 0.9),
            "priority_share": round(f["priority"] / f["received"], 4) if f["received"] else None,
            "suspension_orders_served": f["served"],
            "suspension_orders_executed": f["executed"],
            "suspension_orders_impossible": f["impossible"],
            "suspension_orders_overdue": f["overdue"],
        })
    return out


def trusted_flaggers(session: Session, since: datetime | None = None,
                     until: datetime | None = None) -> list[dict]:
    flaggers = set(session.scalars(select(Organisation.id)
                                   .where(Organisation.type == "trusted_flagger")))
    notices = [n for n in _items(session, "content-notices", since, until)
               if n.sender_org in flaggers]
    decisions = _decisions(session, since, until, with_body=True)
    per: dict[str, dict] = {f: {"notices": 0, "decided": 0, "action": 0} for f in flaggers}
    for notice in notices:
        figures = per[notice.sender_org]
        figures["notices"] += 1
        if notice.id in decisions:
            figures["decided"] += 1
            # An erased decision keeps its outcome (content_notices.rules.redact_step).
            figures["action"] += (json.loads(decisions[notice.id].body).get("outcome")
                                  == "restricted")
    return [{"trusted_flagger": org_id, "notices": f["notices"],
             "notices_decided": f["decided"], "notices_with_action": f["action"],
             "action_share": round(f["action"] / f["decided"], 4) if f["decided"] else None}
            for org_id, f in sorted(per.items())]


def actions_of(decision: dict | None) -> list[str]:
    """What the platform did: pending, no_action, or each restriction it applied (the
    Transparency Database's values)."""
    if decision is None:
        return ["pending"]
    if decision.get("outcome") != "restricted":
        return [decision.get("outcome") or "unknown"]
    return restrictions_applied(decision) or ["restricted"]


def notices_breakdown(session: Session, since: datetime | None = None,
                      until: datetime | None = None) -> list[dict]:
    """Notice counts by platform, notifier (a trusted flagger by name; other notifiers by
    type only), category, content type and action taken (DSA art. 22(3), 15, 24): what
    ARCOM needs without reading any notice. A notice with several content types or
    restrictions counts under each."""
    kinds = dict(session.execute(select(Organisation.id, Organisation.type)).all())
    decisions = _decisions(session, since, until, with_body=True)
    counts: dict[tuple, int] = defaultdict(int)
    for notice in _items(session, "content-notices", since, until, with_content=True):
        content = json.loads(notice.content)
        decision = (json.loads(decisions[notice.id].body) if notice.id in decisions else None)
        kind = kinds.get(notice.sender_org, "unknown")
        flagger = notice.sender_org if kind == "trusted_flagger" else None
        types = (decision or {}).get("content_type") or ["unknown"]
        for content_type in types:
            for action in actions_of(decision):
                counts[(notice.recipient_org, kind, flagger,
                        content.get("category") or "unknown",
                        content_type, action)] += 1
    keys = ("platform", "notifier_type", "trusted_flagger", "category", "content_type",
            "action")
    return [{**dict(zip(keys, key, strict=True)), "notices": n}
            for key, n in sorted(counts.items(), key=lambda kv: tuple(map(str, kv[0])))]
