"""Refusals for notices and decisions: precise problems, nothing stored."""

from __future__ import annotations

import pytest

from tests.conftest import NO_ACTION, RESTRICTED, example_notice, stored_counts


def _errors(resp) -> list[dict]:
    assert resp.status_code == 422, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    return resp.json()["errors"]


@pytest.mark.parametrize("url,message", [
    ("ftp://example.org/x", "must be an http or https URL"),
    ("javascript:alert(1)", "javascript: URLs are refused; give the http(s) address of the "
                            "content"),
    ("JavaScript:alert(1)", "javascript: URLs are refused; give the http(s) address of the "
                            "content"),
    ("data:text/html,<script>alert(1)</script>", "data: URLs are refused; give the http(s) "
                                                 "address of the content"),
    ("https://", "must name a host"),
    ("https://user:pw@example.org/", "must not carry credentials"),
    ("https://example.org:99999/", "is not a valid URL"),
    ("not a url", "must be an http or https URL"),
])
def test_urls(stack, nothing_stored, url, message):
    resp = stack.api("vigilance-alpha").post("/v1/content-notices", example_notice(urls=[url]))
    assert _errors(resp) == [{"field": "urls[0]", "message": message}]


def test_too_many_urls(stack, nothing_stored):
    urls = [f"https://example.org/{i}" for i in range(21)]
    resp = stack.api("vigilance-alpha").post("/v1/content-notices", example_notice(urls=urls))
    assert _errors(resp) == [{"field": "urls", "message": "must have at most 20 items"}]


def test_explanation_and_good_faith(stack, nothing_stored):
    resp = stack.api("vigilance-alpha").post("/v1/content-notices", example_notice(
        explanation="   ", good_faith_statement=False))
    assert [e["field"] for e in _errors(resp)] == ["explanation", "good_faith_statement"]
    resp = stack.api("vigilance-alpha").post("/v1/content-notices", example_notice(explanation=""))
    assert _errors(resp) == [{"field": "explanation", "message": "must not be empty"}]
    resp = stack.api("vigilance-alpha").post("/v1/content-notices", example_notice(
        notifier={"name": "x", "email": "not-an-email"}))
    assert _errors(resp) == [{"field": "notifier.email", "message": "must be a valid email"}]


def test_recipient_must_be_a_platform(stack, nothing_stored):
    resp = stack.api("vigilance-alpha").post("/v1/content-notices",
                                             example_notice(recipient="arcom"))
    assert _errors(resp) == [{"field": "recipient",
                              "message": "must be the id of a platform organisation"}]


@pytest.fixture
def delivered_notice(stack):
    notice = stack.api("vigilance-alpha").post("/v1/content-notices", example_notice()).json()
    stack.api("plateforme-alpha").wait_delivered(notice["id"])
    return notice


def _decide(stack, notice, body, org="plateforme-alpha"):
    return stack.api(org).post(f"/v1/content-notices/{notice['id']}/decision", body)


def test_decision_needs_a_restriction_or_no_action(stack, delivered_notice):
    before = stored_counts(stack)
    body = {**RESTRICTED, "restrictions": []}
    assert _errors(_decide(stack, delivered_notice, body)) == [
        {"field": "restrictions", "message": "name at least one restriction, or decide "
                                             "no_action"}]
    body = {k: v for k, v in NO_ACTION.items() if k != "no_action_reasons"}
    assert _errors(_decide(stack, delivered_notice, body)) == [
        {"field": "no_action_reasons", "message": "required for no_action"}]
    body = {**NO_ACTION, "restrictions": RESTRICTED["restrictions"]}
    assert _errors(_decide(stack, delivered_notice, body)) == [
        {"field": "restrictions", "message": "no_action applies none"}]
    body = {k: v for k, v in RESTRICTED.items() if k not in ("ground", "facts")}
    assert [e["field"] for e in _errors(_decide(stack, delivered_notice, body))] == [
        "facts", "ground"]
    assert stored_counts(stack) == before


def test_territorial_scope_must_be_eu_or_eea(stack, delivered_notice):
    for scope, field in ((["US"], "restrictions[0].territorial_scope[0]"),
                         (["FR", "CH"], "restrictions[0].territorial_scope[1]"),
                         (["fr"], "restrictions[0].territorial_scope[0]")):
        body = {**RESTRICTED, "restrictions": [
            {"type": "visibility", "measure": "removal", "territorial_scope": scope}]}
        assert _errors(_decide(stack, delivered_notice, body)) == [
            {"field": field,
             "message": "must be an EU/EEA country code (ISO 3166-1 alpha-2) or EEA"}]
    body = {**RESTRICTED, "restrictions": [
        {"type": "visibility", "measure": "removal", "territorial_scope": ["FR"],
         "end_date": "2001-01-01"}]}
    assert _errors(_decide(stack, delivered_notice, body)) == [
        {"field": "restrictions[0].end_date", "message": "must not be in the past"}]


def test_decision_by_another_platform(stack, delivered_notice):
    before = stored_counts(stack)
    assert _decide(stack, delivered_notice, RESTRICTED, "plateforme-beta").status_code == 404
    assert stored_counts(stack) == before


def test_the_categories_a_flagger_is_awarded_are_the_contracts():
    import yaml

    from services.config import ROOT
    from services.content_notices.rules import CATEGORIES

    spec = yaml.safe_load((ROOT / "openapi" / "vigie.yaml").read_text())
    enum = spec["components"]["schemas"]["ContentNoticeSubmission"]["properties"]["category"]
    assert set(enum["enum"]) == CATEGORIES
