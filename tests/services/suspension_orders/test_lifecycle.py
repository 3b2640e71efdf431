"""Suspension orders: served, delivered, executed or impossible; overdue executions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.db import utcnow
from services.exchanges.models import Item
from tests.conftest import events_for, example_order, stored_counts


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
    executed = platform.post(f"/v1/suspension-orders/{order['id']}/execution",
                             {"result": "executed", "blocked_at": utcnow().isoformat()})
    assert executed.status_code == 201, executed.text
    assert executed.json()["status"] == "executed"
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
    assert _errors(platform.post(path, {"result": "executed"})) == [
        {"field": "blocked_at", "message": "required once executed"}]
    assert _errors(platform.post(path, {"result": "impossible"})) == [
        {"field": "reasons", "message": "say why the accounts cannot be blocked"}]
    future = (utcnow() + timedelta(days=1)).isoformat()
    assert _errors(platform.post(path, {"result": "executed", "blocked_at": future})) == [
        {"field": "blocked_at", "message": "must not be in the future"}]
    # A platform the order is not addressed to.
    assert stack.api("plateforme-alpha").post(
        path, {"result": "executed", "blocked_at": utcnow().isoformat()}).status_code == 404
    assert stored_counts(stack) == before
