"""Declared authority: a sender's court, magistrate and notifier name come from its
registry record; what it declares otherwise is refused (422, every field listed), and an
organisation the registry gives no jurisdiction cannot declare a court at all."""

from __future__ import annotations

import uuid

from sqlalchemy import create_engine, text

from services.exchanges.authority import registered
from services.organisations import service as organisations
from tests.conftest import (
    PARQUET,
    example_notice,
    example_notification,
    example_order,
    example_request,
)


def _errors(resp) -> list[dict]:
    assert resp.status_code == 422, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    return resp.json()["errors"]


def _content(stack, org: str, exchange: str, item_id: str) -> dict:
    resp = stack.api(org).get(f"/v1/{exchange}/{item_id}")
    assert resp.status_code == 200, resp.text
    return resp.json()["content"]


def test_registered_fills_what_is_left_out_and_refuses_what_differs():
    errors: list[dict] = []
    body = {"a": {"x": 1}}
    filled = registered(body, ("a", "code"), "TJ-PARIS", "the court", errors)
    assert filled == {"a": {"x": 1, "code": "TJ-PARIS"}} and body == {"a": {"x": 1}}
    assert registered({}, ("a", "code"), "TJ-PARIS", "the court", errors) == {
        "a": {"code": "TJ-PARIS"}}
    assert errors == []
    registered({"a": {"code": "TJ-LYON"}}, ("a", "code"), "TJ-PARIS", "the court", errors)
    assert errors == [{"field": "a.code", "message": "must be 'TJ-PARIS', the court (or "
                                                     "leave it out: the hub fills it in)"}]


def test_the_hub_fills_in_the_senders_court(stack):
    court = stack.api("tj-paris")
    item = court.post("/v1/information-requests", example_request()).json()
    authority = _content(stack, "tj-paris", "information-requests", item["id"])[
        "requesting_authority"]
    assert authority == {"court_code": "TJ-PARIS", "court_name": "Tribunal judiciaire de Paris",
                         "magistrate_role": "juge_instruction"}
    # The recipient reads the same, as the hub vouches for it.
    entry = stack.api("miviludes").wait_delivered(item["id"])
    assert entry["event"]["data"]["content"]["requesting_authority"] == authority

    # The court's name as people write it (case, spacing) is the registry's.
    same = example_request(requesting_authority={
        "court_code": "TJ-PARIS", "court_name": "tribunal  judiciaire de PARIS",
        "magistrate_role": "juge_siege"})
    assert court.post("/v1/information-requests", same).status_code == 201

    notification = stack.api("pr-marseille").post("/v1/order-notifications",
                                                   example_notification())
    assert notification.status_code == 201, notification.text
    assert _content(stack, "pr-marseille", "order-notifications", notification.json()["id"])[
        "court"] == {"court_code": "TJ-MARSEILLE",
                     "court_name": "Tribunal judiciaire de Marseille"}
    order = stack.api("tj-lyon").post("/v1/suspension-orders", example_order())
    assert order.status_code == 201, order.text
    decision = _content(stack, "tj-lyon", "suspension-orders", order.json()["id"])["decision"]
    assert decision["court_code"] == "TJ-LYON"
    notice = stack.api("vigilance-alpha").post("/v1/content-notices", example_notice())
    assert notice.status_code == 201, notice.text
    notifier = _content(stack, "vigilance-alpha", "content-notices",
                        notice.json()["id"])["notifier"]
    assert notifier == {"name": "Association Vigilance Alpha (fictive)",
                        "email": "signalements@example.org"}


def test_another_court_or_office_is_refused(stack, nothing_stored):
    # A prosecutor claiming Lyon's court and an investigating judge: both fields listed,
    # with the schema's and the rules' errors of the same body.
    body = example_request(due_date="2001-01-01", requesting_authority={
        "court_code": "TJ-LYON", "court_name": "Tribunal judiciaire de Lyon",
        "magistrate_role": "juge_instruction"})
    errors = _errors(stack.api("pr-paris").post("/v1/information-requests", body))
    assert [e["field"] for e in errors] == [
        "due_date", "requesting_authority.court_code", "requesting_authority.court_name",
        "requesting_authority.magistrate_role"]
    assert "'TJ-PARIS'" in errors[1]["message"]
    assert "procureur_republique" in errors[3]["message"]
    # A court's judge cannot sign as the parquet.
    errors = _errors(stack.api("tj-paris").post("/v1/information-requests",
                                                example_request(requesting_authority=PARQUET)))
    assert [e["field"] for e in errors] == ["requesting_authority.magistrate_role"]

    errors = _errors(stack.api("pr-marseille").post(
        "/v1/order-notifications", example_notification(court={"court_code": "TJ-PARIS"})))
    assert [e["field"] for e in errors] == ["court.court_code"]
    errors = _errors(stack.api("tj-lyon").post("/v1/suspension-orders", example_order(
        decision={"court_code": "TJ-PARIS", "date": "2025-09-15", "finality": "final"})))
    assert [e["field"] for e in errors] == ["decision.court_code"]
    errors = _errors(stack.api("vigilance-alpha").post("/v1/content-notices", example_notice(
        notifier={"name": "ARCOM", "email": "x@example.org"})))
    assert [e["field"] for e in errors] == ["notifier.name"]


def test_an_office_without_a_registered_jurisdiction_declares_no_court(stack):
    """Registered before jurisdictions were recorded: refused until an operator records
    one, then its submissions carry it."""
    org_id = f"pr-{uuid.uuid4().hex[:8]}"
    owner = create_engine(stack.owner_url)
    with owner.begin() as conn:
        conn.execute(text("INSERT INTO organisations (id, type, name, created_at) VALUES "
                          "(:id, 'prosecution', 'Parquet de Nulle-Part', CURRENT_TIMESTAMP)"),
                     {"id": org_id})
    with stack.hub.db.transaction() as session:
        client, secret = organisations.add_client(session, org_id)
    stack.hub.directory.refresh()  # an unknown id is read again at most every 0.5 s
    resp = stack.http.post("/oauth/token", data={"grant_type": "client_credentials"},
                           auth=(client.client_id, secret))
    headers = {"Authorization": f"Bearer {resp.json()['access_token']}",
               "Idempotency-Key": str(uuid.uuid4())}
    body = example_request(requesting_authority=PARQUET)
    refused = stack.http.post("/v1/information-requests", json=body, headers=headers)
    assert refused.status_code == 403, refused.text
    assert "no jurisdiction" in refused.json()["detail"]

    with owner.begin() as conn:
        conn.execute(text("UPDATE organisations SET jurisdiction = 'TJ-NANTES', "
                          "jurisdiction_name = 'Tribunal judiciaire de Nantes' WHERE id = :id"),
                     {"id": org_id})
    stack.hub.directory.refresh()
    headers["Idempotency-Key"] = str(uuid.uuid4())
    done = stack.http.post("/v1/information-requests", json=body, headers=headers)
    assert done.status_code == 201, done.text
    assert done.json()["content"]["requesting_authority"]["court_code"] == "TJ-NANTES"
    owner.dispose()
