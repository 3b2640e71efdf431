"""Crafted inputs get a precise 4xx, never a 500 nor an unaudited answer; one request's
body cannot hold an API process (issue: hostile clients, items 1, 3, 4 and 12)."""

from __future__ import annotations

import base64
import copy
import time

import pytest
from sqlalchemy import select

from services.audit.models import AuditEntry
from services.http import MAX_ERRORS
from services.metrics import AUTH_FAILURES
from tests.conftest import example_notification, example_request


def _problem(resp, status: int) -> dict:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    return resp.json()


def _last_audit(stack, path_prefix: str) -> AuditEntry:
    with stack.hub.db.sessions() as session:
        return session.scalars(select(AuditEntry).where(AuditEntry.object.startswith(
            path_prefix)).order_by(AuditEntry.seq.desc())).first()


def test_mixed_unique_items_are_checked_in_one_pass(stack):
    """jsonschema compared every pair of a mixed-type array: a 42 KB body held an API
    process for seconds, 230 KB for minutes. Now linear, off the event loop, and the list
    of errors is capped."""
    body = example_notification()
    body["measure"]["obligations"] = (["138_12", 1, "x", 2.5] * 11000) + ["138_12"]  # 220 KB
    started = time.monotonic()
    resp = stack.api("pr-paris").post("/v1/order-notifications", body)
    elapsed = time.monotonic() - started
    errors = _problem(resp, 422)["errors"]
    assert {"field": "measure.obligations", "message": "must not repeat items"} in errors
    assert {"field": "measure.obligations", "message": "must have at most 2 items"} in errors
    assert len(errors) == MAX_ERRORS + 1 and "more than" in errors[-1]["message"]
    assert elapsed < 5, f"{elapsed:.1f} s for one body (quadratic: minutes)"


def test_unique_items_keeps_json_equality(stack):
    body = example_notification()
    body["measure"]["obligations"] = ["138_12", "138_12"]
    errors = _problem(stack.api("pr-paris").post("/v1/order-notifications", body),
                      422)["errors"]
    assert {"field": "measure.obligations", "message": "must not repeat items"} in errors
    ok = copy.deepcopy(example_notification())
    ok["measure"] = {"type": "judicial_control", "decision_date": "2025-10-02",
                     "obligations": ["138_12", "138_12_bis"]}
    assert stack.api("pr-paris").post("/v1/order-notifications", ok).status_code == 201


@pytest.mark.parametrize("after", ["²", "１２", "٣", "-1", "1e3", "9" * 19])
def test_feed_cursors_that_look_numeric(stack, after):
    body = _problem(stack.api("miviludes").get("/v1/feed", after=after), 422)
    assert body["errors"] == [{"field": "query:after", "message": "not a cursor this API gave"}]


@pytest.mark.parametrize("raw", ["2024-01-01T00:00:00|not-an-id",
                                 "2024-01-01T00:00:00|6f1c0b1e-8d1f-4a57-9b83-1f0a2b3c4d5e",
                                 "0001-01-01T00:00:00-01:00|6f1c0b1e-8d1f-4a57-9b83-1f0a2b3c4d5e",
                                 "x|\u0000", "|"])
def test_forged_list_cursors(stack, raw):
    cursor = base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
    resp = stack.api("tj-paris").get("/v1/information-requests", after=cursor)
    assert _problem(resp, 422)["errors"][0]["field"] == "query:after"


@pytest.mark.parametrize("since", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00",
                                   "0001-01-01T00:00:00+00:00"])
def test_oversight_windows_at_the_edges_of_time(stack, since):
    resp = stack.api("arcom").get("/v1/oversight/platforms", since=since)
    assert _problem(resp, 422)["errors"][0]["field"] == "query:since"


def test_the_token_endpoint_ignores_the_clients_host(stack):
    c = stack.creds["tj-paris"]
    resp = stack.http.post("/oauth/token", data={
        "grant_type": "client_credentials", "client_id": c["client_id"],
        "client_secret": c["client_secret"]}, headers={"Host": "evil.example"})
    assert resp.status_code == 200, resp.text
    assert resp.json()["token_type"].lower() == "bearer"


def test_nul_and_long_paths_are_refused_and_audited(stack):
    """psycopg refuses NUL in text: an audited path with one failed its whole group."""
    for path in ("/v1/%00", "/v1/information-requests/" + "a" * 600, "/v1/x%00y/" + "é" * 400):
        resp = stack.http.get(path)
        assert 400 <= resp.status_code < 500, (path, resp.status_code)
        assert resp.headers["content-type"].startswith("application/problem+json")
    entry = _last_audit(stack, "/v1/x")
    assert entry is not None and "\x00" not in entry.object and len(entry.object) <= 300
    assert _last_audit(stack, "/v1/\ufffd") is not None
    # The hub still answers, and audits, everything else.
    assert stack.api("tj-paris").post("/v1/information-requests",
                                      example_request()).status_code == 201


def test_refusals_after_a_valid_token_name_the_client(stack):
    """A missing scope (403) and the rate limit (429) come after the token was verified:
    their audit entries name the client, not an anonymous caller."""
    token = stack.token("plateforme-alpha", "feed:read")
    resp = stack.http.get("/v1/oversight/platforms",
                          headers={"Authorization": f"Bearer {token}"})
    _problem(resp, 403)
    entry = _last_audit(stack, "/v1/oversight/platforms")
    assert entry.outcome == 403
    assert entry.client_id == stack.creds["plateforme-alpha"]["client_id"]
    assert entry.org_id == "plateforme-alpha"


def test_failed_client_logins_are_counted(stack):
    before = AUTH_FAILURES.labels("invalid_client")._value.get()
    for auth in ({"auth": ("nobody", "wrong")},
                 {"data": {"client_id": "nobody", "client_secret": "wrong"}}):
        resp = stack.http.post("/oauth/token", **{
            "data": {"grant_type": "client_credentials", **auth.get("data", {})},
            **({"auth": auth["auth"]} if "auth" in auth else {})})
        assert resp.status_code == 401
    assert AUTH_FAILURES.labels("invalid_client")._value.get() == before + 2


def test_integers_beyond_64_bits(stack):
    """SQLite refuses them at execution (OverflowError): the contract bounds every id."""
    operator = stack.api("exploitation")
    huge = str(2**64)
    _problem(operator.post(f"/v1/admin/dead-letters/{huge}/replay", None, key=None), 400)
    _problem(operator.get("/v1/admin/audit", after=huge), 400)


@pytest.mark.parametrize("title", ["a\x00b", "line\nbreak", "\x7f"])
def test_control_characters_in_a_documents_title_are_refused(stack, title):
    """A title becomes a file name and a text column: a NUL reached the database and
    failed the write (a 500, found by the fuzzer) before the contract refused it."""
    court = stack.api("tj-paris")
    resp = stack.http.post("/v1/documents", params={"title": title}, content=b"%PDF-1.4\n",
                           headers={**court.headers, "Content-Type": "application/pdf",
                                    "Idempotency-Key": f"title-{title.encode().hex()}"})
    body = _problem(resp, 400)
    assert body["errors"] == [{"field": "query:title",
                               "message": "must not contain control characters"}]
