"""Suspension orders: served, delivered, executed or impossible; overdue executions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.db import utcnow
from services.exchanges.models import Item
from tests.conftest import events_for, example_order, stored_counts

DONE = {"other_accounts": {"blocked": [{"identifier": "@eveil.interieur.bis"}]},
        "new_accounts": {"measures": "Inscription refusée pour l'adresse et le téléphone."}}


def _executed(platform, order_id: str, blocked_at: datetime) -> dict:
    resp = platform.post(f"/v1/suspension-orders/{order_id}/execution",
                         {"result": "executed", "blocked_at": blocked_at.isoformat(), **DONE})
    assert resp.status_code == 201, resp.text
    return resp.json()


def test_served_delivered_executed(stack):
    court, platform = stack.api("tj-lyon"), stack.api("plateforme-beta")
    resp = court.post("/v1/suspension-orders", example_order())
    assert resp.status_code == 201, resp.text
    order = resp.json()
    assert order["status"] == "delivered"  # in the platform's feed by the same commit
    assert order["content"]["legal_basis"] == "art. 131-35-1 CP"
    assert order["content"]["legal_recidivism"] is False
    platform.wait_delivered(order["id"])
    assert platform.get(f"/v1/suspension-orders/{order['id']}").json()["status"] == "delivered"
    # The obligations beyond the named accounts are on the resource and every message.
    assert "nouveaux" in order["notice"]
    executed = _executed(platform, order["id"], utcnow())
    assert executed["status"] == "executed"
    # Executed is not the end: the unblocking at the term is due (not yet overdue).
    assert executed["overdue"] is False
    feed = court.wait_feed(lambda f: "executed" in events_for(f, order["id"]))
    assert events_for(feed, order["id"]) == ["executed"]
    again = platform.post(f"/v1/suspension-orders/{order['id']}/execution",
                          {"result": "impossible", "reasons": "x"})
    assert again.status_code == 409


def test_impossible_with_reasons(stack):
    prosecution, platform = stack.api("pr-paris"), stack.api("plateforme-alpha")
    order = prosecution.post("/v1/suspension-orders",
                             example_order(recipient="plateforme-alpha", duration_months=10,
                                           legal_recidivism=True)).json()
    platform.wait_delivered(order["id"])
    resp = platform.post(f"/v1/suspension-orders/{order['id']}/execution",
                         {"result": "impossible",
                          "reasons": "Compte supprimé par son titulaire le 1er septembre."})
    assert resp.status_code == 201 and resp.json()["status"] == "impossible"
    prosecution.wait_feed(lambda f: "impossible" in events_for(f, order["id"]))


def test_the_execution_deadline_runs_from_signification(stack):
    """The end of the day the order was served (Paris) plus 24 h — not from submission: an
    order submitted days after it was served is overdue at once."""
    court = stack.api("tj-paris")
    order = court.post("/v1/suspension-orders", example_order(served_on="2025-09-20")).json()
    assert datetime.fromisoformat(order["due_at"]) == datetime(2025, 9, 21, 22, tzinfo=UTC)
    assert order["overdue"] is True


def test_an_order_under_appeal_needs_provisional_execution(stack):
    api = stack.api("tj-lyon")
    for finality, ok in (("appeal_lodged", False), ("appeal_period_running", False),
                         ("provisional_execution", True), ("final", True)):
        resp = api.post("/v1/suspension-orders", example_order(
            decision={"date": "2025-09-15", "finality": finality}))
        if ok:
            assert resp.status_code == 201, resp.text
        else:
            assert [e["field"] for e in _errors(resp)] == ["decision.finality"]


def test_overdue_executions_are_counted(stack):
    court = stack.api("tj-paris")
    order = court.post("/v1/suspension-orders", example_order()).json()
    assert order["overdue"] is False
    with stack.hub.db.transaction() as session:
        session.get(Item, order["id"]).due_at = utcnow() - timedelta(hours=1)
    assert court.get(f"/v1/suspension-orders/{order['id']}").json()["overdue"] is True
    assert 'vigie_items_overdue{exchange="suspension-orders"}' in stack.http.get("/metrics").text


def _errors(resp):
    assert resp.status_code == 422, resp.text
    return resp.json()["errors"]




@pytest.mark.parametrize("months,recidivism,ok", [
    (6, False, True), (7, False, False), (12, True, True), (13, True, False),
    (0, False, False),
])
def test_duration_limits(stack, months, recidivism, ok):
    before = stored_counts(stack)
    resp = stack.api("tj-lyon").post("/v1/suspension-orders", example_order(
        duration_months=months, legal_recidivism=recidivism))
    if ok:
        assert resp.status_code == 201, resp.text
        return
    errors = _errors(resp)
    assert [e["field"] for e in errors] == ["duration_months"]
    assert stored_counts(stack) == before


def test_other_refusals(stack):
    before = stored_counts(stack)
    api = stack.api("tj-lyon")
    assert _errors(api.post("/v1/suspension-orders", example_order(
        accounts=[{"identifier": "x", "url": "javascript:alert(1)"}]))) == [
        {"field": "accounts[0].url",
         "message": "javascript: URLs are refused; give the http(s) address of the content"}]
    assert _errors(api.post("/v1/suspension-orders", example_order(accounts=[]))) == [
        {"field": "accounts", "message": "must have at least 1 items"}]
    assert _errors(api.post("/v1/suspension-orders", example_order(served_on="2999-01-01"))) == [
        {"field": "served_on", "message": "must not be in the future"}]
    assert _errors(api.post("/v1/suspension-orders", example_order(recipient="cnom"))) == [
        {"field": "recipient", "message": "must be the id of a platform organisation"}]
    assert stored_counts(stack) == before


def test_execution_refusals(stack):
    order = stack.api("tj-lyon").post("/v1/suspension-orders", example_order()).json()
    platform = stack.api("plateforme-beta")
    platform.wait_delivered(order["id"])
    path = f"/v1/suspension-orders/{order['id']}/execution"
    before = stored_counts(stack)
    assert [e["field"] for e in _errors(platform.post(path, {"result": "executed"}))] == [
        "blocked_at", "new_accounts", "other_accounts"]
    assert _errors(platform.post(path, {"result": "impossible"})) == [
        {"field": "reasons", "message": "say why the accounts cannot be blocked"}]
    future = (utcnow() + timedelta(days=1)).isoformat()
    assert _errors(platform.post(path, {"result": "executed", "blocked_at": future,
                                        **DONE})) == [
        {"field": "blocked_at", "message": "must not be in the future"}]
    # A platform the order is not addressed to.
    assert stack.api("plateforme-alpha").post(
        path, {"result": "executed", "blocked_at": utcnow().isoformat(), **DONE}
    ).status_code == 404
    assert stored_counts(stack) == before


def test_the_term_is_computed_and_unblocking_waits_for_it(stack):
    """Six months from the blocking: the last day is the day before the same date six
    months later; the platform cannot unblock before, and unblocking closes the order."""
    court, platform = stack.api("tj-lyon"), stack.api("plateforme-beta")
    order = court.post("/v1/suspension-orders", example_order(
        served_on="2025-09-20", duration_months=6)).json()
    platform.wait_delivered(order["id"])
    blocked = datetime(2025, 9, 20, 14, 42, tzinfo=UTC)  # 16:42 in Paris
    executed = _executed(platform, order["id"], blocked)
    step = executed["steps"][-1]["content"]
    assert step["ends_on"] == "2026-03-19"
    assert step["other_accounts"] == DONE["other_accounts"]
    # The unblocking is due 24 h after the end of the last day (Paris): 21 March 00:00 CET.
    assert datetime.fromisoformat(executed["due_at"]) == datetime(2026, 3, 20, 23, tzinfo=UTC)
    feed = court.wait_feed(lambda f: "executed" in events_for(f, order["id"]))
    message = [e for e in feed if e["event"]["subject"] == order["id"]][-1]["event"]["data"]
    assert message["content"]["ends_on"] == "2026-03-19" and "nouveaux" in message["notice"]

    path = f"/v1/suspension-orders/{order['id']}/unblocking"
    early = platform.post(path, {"unblocked_at": "2026-03-19T22:00:00+01:00"})
    assert _errors(early) == [{"field": "unblocked_at", "message": "the suspension runs until "
                               "2026-03-19 included; earlier only once the court lifts it"}]
    before = platform.post(path, {"unblocked_at": "2025-09-01T10:00:00+02:00"})
    assert _errors(before)[0]["message"] == "must not be before the blocking"
    # The hub computes the term: a platform cannot state its own.
    own = platform.post(f"/v1/suspension-orders/{order['id']}/execution",
                        {"result": "executed", "blocked_at": blocked.isoformat(),
                         "ends_on": "2030-01-01", **DONE})
    assert own.status_code in (409, 422)
    assert court.post(path, {"unblocked_at": "2026-03-20T09:00:00+01:00"}).status_code == 403
    ended = platform.post(path, {"unblocked_at": "2026-03-20T09:00:00+01:00"})
    assert ended.status_code == 201, ended.text
    assert ended.json()["status"] == "ended" and ended.json()["overdue"] is False
    court.wait_feed(lambda f: "ended" in events_for(f, order["id"]))


def test_the_court_lifts_the_suspension_and_the_platform_unblocks_early(stack):
    court, platform = stack.api("tj-lyon"), stack.api("plateforme-beta")
    order = court.post("/v1/suspension-orders", example_order()).json()
    platform.wait_delivered(order["id"])
    _executed(platform, order["id"], utcnow() - timedelta(days=1))
    path = f"/v1/suspension-orders/{order['id']}"
    today = utcnow().date().isoformat()
    refused = court.post(f"{path}/lifting", {"decision": {"date": "2999-01-01"},
                                             "effective_on": "2025-01-01"})
    assert [e["field"] for e in _errors(refused)] == ["decision.date", "effective_on"]
    assert platform.post(f"{path}/lifting", {"decision": {"date": today},
                                             "effective_on": today}).status_code == 403
    lifted = court.post(f"{path}/lifting", {"decision": {"date": today, "case_reference": "R-1"},
                                            "effective_on": today})
    assert lifted.status_code == 201, lifted.text
    assert lifted.json()["status"] == "lifted" and lifted.json()["overdue"] is False
    platform.wait_feed(lambda f: "lifted" in events_for(f, order["id"]))
    ended = platform.post(f"{path}/unblocking", {"unblocked_at": utcnow().isoformat()})
    assert ended.status_code == 201, ended.text
    assert ended.json()["status"] == "ended"
    assert court.post(f"{path}/lifting", {"decision": {"date": today},
                                          "effective_on": today}).status_code == 409


def test_months_are_added_as_the_calendar_has_them():
    from datetime import date

    from services.suspension_orders.rules import add_months

    assert add_months(date(2025, 8, 31), 6) == date(2026, 2, 28)
    assert add_months(date(2024, 8, 31), 6) == date(2025, 2, 28)
    assert add_months(date(2023, 8, 31), 6) == date(2024, 2, 29)
    assert add_months(date(2025, 12, 15), 12) == date(2026, 12, 15)
    assert add_months(date(2025, 7, 1), 6) == date(2026, 1, 1)
