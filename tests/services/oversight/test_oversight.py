"""ARCOM oversight figures, from a known scripted set of notices, decisions and orders."""

from __future__ import annotations

import json
from datetime import timedelta

from services.db import utcnow
from services.exchanges.models import Item, ItemStep
from tests.conftest import NO_ACTION, RESTRICTED, example_notice, example_order


def _decide_after(stack, notice: dict, body: dict, hours: float) -> None:
    """Decide, then set the decision `hours` after the submission (a known duration)."""
    platform = stack.api(notice["recipient"])
    platform.wait_delivered(notice["id"])
    assert platform.post(f"/v1/content-notices/{notice['id']}/decision",
                         body).status_code == 201
    with stack.hub.db.transaction() as session:
        item = session.get(Item, notice["id"])
        step = next(s for s in item.steps if s.action == "decision")
        step.created_at = item.created_at + timedelta(hours=hours)
        session.add(step)


def test_figures_per_platform_and_trusted_flagger(stack):
    since = utcnow().isoformat()
    flagger_a, flagger_b = stack.api("vigilance-alpha"), stack.api("vigilance-beta")
    dgs = stack.api("dgs")
    alpha = "plateforme-alpha"
    n1 = flagger_a.post("/v1/content-notices", example_notice()).json()
    n2 = flagger_a.post("/v1/content-notices", example_notice()).json()
    n3 = flagger_a.post("/v1/content-notices", example_notice()).json()
    n4 = dgs.post("/v1/content-notices", example_notice()).json()
    dgs.post("/v1/content-notices", example_notice())  # received, never decided
    n6 = flagger_b.post("/v1/content-notices", example_notice(recipient="plateforme-beta",
                                                               category="fraud")).json()
    _decide_after(stack, n1, RESTRICTED, 1)
    _decide_after(stack, n2, RESTRICTED, 2)
    _decide_after(stack, n3, NO_ACTION, 3)
    _decide_after(stack, n4, RESTRICTED, 10)
    _decide_after(stack, n6, NO_ACTION, 5)

    court = stack.api("tj-paris")
    executed = court.post("/v1/suspension-orders", example_order(recipient=alpha)).json()
    late = court.post("/v1/suspension-orders", example_order(recipient=alpha)).json()
    stack.api(alpha).wait_delivered(executed["id"])
    stack.api(alpha).post(f"/v1/suspension-orders/{executed['id']}/execution",
                          {"result": "executed", "blocked_at": utcnow().isoformat(),
                           "other_accounts": {"blocked": []},
                           "new_accounts": {"measures": "Inscription refusée."}})
    with stack.hub.db.transaction() as session:
        session.get(Item, late["id"]).due_at = utcnow() - timedelta(hours=1)

    arcom = stack.api("arcom")
    resp = arcom.get("/v1/oversight/platforms", since=since)
    assert resp.status_code == 200, resp.text
    figures = {p["platform"]: p for p in resp.json()["platforms"]}
    assert figures[alpha] == {
        "platform": alpha,
        "notices_received": 5,
        "notices_decided": 4,
        "median_seconds_to_decision": 2.5 * 3600,
        "p90_seconds_to_decision": 10 * 3600,
        "priority_share": 0.6,
        "suspension_orders_served": 2,
        "suspension_orders_executed": 1,
        "suspension_orders_impossible": 0,
        "suspension_orders_overdue": 1,
    }
    beta = figures["plateforme-beta"]
    assert (beta["notices_received"], beta["notices_decided"]) == (1, 1)
    assert beta["median_seconds_to_decision"] == beta["p90_seconds_to_decision"] == 5 * 3600
    assert beta["priority_share"] == 1.0

    flaggers = {f["trusted_flagger"]: f for f in arcom.get(
        "/v1/oversight/trusted-flaggers", since=since).json()["trusted_flaggers"]}
    assert flaggers["vigilance-alpha"] == {"trusted_flagger": "vigilance-alpha", "notices": 3,
                                  "notices_decided": 3, "notices_with_action": 2,
                                  "action_share": 0.6667}
    assert flaggers["vigilance-beta"]["notices_with_action"] == 0
    assert flaggers["vigilance-beta"]["action_share"] == 0.0
    assert "dgs" not in flaggers

    # By platform, notifier, category, content type and action (DSA art. 22(3)): the
    # flaggers named, the DGS only as a state service.
    rows = arcom.get("/v1/oversight/notices", since=since).json()["notices"]
    counted = {tuple(r[k] for k in ("platform", "notifier_type", "trusted_flagger",
                                    "category", "content_type", "action")): r["notices"]
               for r in rows}
    health, video = "dangerous_health_practice", "CONTENT_TYPE_VIDEO"
    removed = "DECISION_VISIBILITY_CONTENT_REMOVED"
    assert counted == {
        (alpha, "trusted_flagger", "vigilance-alpha", health, video, removed): 2,
        (alpha, "trusted_flagger", "vigilance-alpha", health, "unknown", "no_action"): 1,
        (alpha, "state_service", None, health, video, removed): 1,
        (alpha, "state_service", None, health, "unknown", "pending"): 1,
        ("plateforme-beta", "trusted_flagger", "vigilance-beta", "fraud", "unknown",
         "no_action"): 1,
    }


def test_a_window_in_the_future_is_empty(stack):
    future = (utcnow() + timedelta(days=1)).isoformat()
    figures = stack.api("exploitation").get("/v1/oversight/platforms", since=future).json()
    assert all(p["notices_received"] == 0 for p in figures["platforms"])


def test_oversight_is_for_the_regulator_and_operators(stack):
    for org in ("plateforme-alpha", "vigilance-alpha", "tj-paris", "miviludes", "cnom"):
        assert stack.api(org).get("/v1/oversight/platforms").status_code == 403
    bad = stack.api("arcom").get("/v1/oversight/platforms", since="yesterday")
    assert bad.status_code == 400
    naive = stack.api("arcom").get("/v1/oversight/platforms", since="2025-01-01T00:00:00")
    assert naive.status_code in (400, 422)


def test_decision_bodies_are_what_the_figures_read(stack):
    # The action share reads the stored decision's outcome.
    with stack.hub.db.sessions() as session:
        outcomes = {json.loads(s.body).get("outcome") for s in session.query(ItemStep)
                    .join(Item, Item.id == ItemStep.item_id)
                    .filter(Item.exchange == "content-notices",
                            ItemStep.action == "decision")}
    assert outcomes <= {"restricted", "no_action"}
