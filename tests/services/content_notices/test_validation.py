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
    body = {k: v for k, v in RESTRICTED.items() if k != "decision_visibility"}
    assert _errors(_decide(stack, delivered_notice, body)) == [
        {"field": "decision_visibility", "message": "name at least one restriction "
         "(visibility, monetary, provision or account), or decide no_action"}]
    body = {k: v for k, v in NO_ACTION.items() if k != "no_action_reasons"}
    assert _errors(_decide(stack, delivered_notice, body)) == [
        {"field": "no_action_reasons", "message": "required for no_action"}]
    body = {**NO_ACTION, "decision_visibility": RESTRICTED["decision_visibility"],
            "puid": "X"}
    assert _errors(_decide(stack, delivered_notice, body)) == [
        {"field": "decision_visibility", "message": "only when content is restricted"},
        {"field": "puid", "message": "only when content is restricted"}]
    required = ("decision_ground", "category", "content_type", "application_date",
                "territorial_scope", "decision_facts", "puid")
    body = {k: v for k, v in RESTRICTED.items() if k not in required}
    assert [e["field"] for e in _errors(_decide(stack, delivered_notice, body))] == sorted(
        required)
    assert stored_counts(stack) == before


def test_the_statement_follows_the_transparency_database_rules(stack, delivered_notice):
    """Each "other" value is described, each ground has its explanation (both grounds
    when content against the terms is also illegal), dates are coherent."""
    before = stored_counts(stack)
    cases = [
        ({"decision_visibility": ["DECISION_VISIBILITY_OTHER"]},
         [("decision_visibility_other", "required when decision_visibility is "
                                        "DECISION_VISIBILITY_OTHER")]),
        ({"decision_monetary_other": "x"},
         [("decision_monetary_other", "only when decision_monetary is "
                                      "DECISION_MONETARY_OTHER")]),
        ({"decision_ground": "DECISION_GROUND_INCOMPATIBLE_CONTENT",
          "illegal_content_legal_ground": None, "illegal_content_explanation": None},
         [("incompatible_content_explanation", "required when the ground is the terms and "
                                               "conditions"),
          ("incompatible_content_ground", "required when the ground is the terms and "
                                          "conditions"),
          ("incompatible_content_illegal", "required when the ground is the terms and "
                                           "conditions")]),
        ({"decision_ground": "DECISION_GROUND_INCOMPATIBLE_CONTENT",
          "incompatible_content_ground": "CGU § 4", "incompatible_content_explanation": "x",
          "incompatible_content_illegal": False},
         [("illegal_content_explanation", "only when the content is held illegal"),
          ("illegal_content_legal_ground", "only when the content is held illegal")]),
        ({"content_type": ["CONTENT_TYPE_OTHER"]},
         [("content_type_other", "required when content_type is CONTENT_TYPE_OTHER")]),
        ({"category_addition": [RESTRICTED["category"]]},
         [("category_addition", "must not repeat category")]),
        ({"content_date": "2025-11-03"},
         [("content_date", "must not be after application_date")]),
        ({"application_date": "2999-01-01"},
         [("application_date", "must not be in the future")]),
        ({"end_date_account_restriction": "2030-01-01"},
         [("end_date_account_restriction", "only with a decision_account")]),
        ({"decision_account": "DECISION_ACCOUNT_SUSPENDED",
          "end_date_account_restriction": "2025-01-01"},
         [("end_date_account_restriction", "must not be before application_date")]),
    ]
    for change, expected in cases:
        body = {k: v for k, v in {**RESTRICTED, **change}.items() if v is not None}
        got = _errors(_decide(stack, delivered_notice, body))
        assert [(e["field"], e["message"]) for e in got] == expected, change
    assert stored_counts(stack) == before
    # Both grounds: against the terms and also illegal.
    both = {**RESTRICTED, "decision_ground": "DECISION_GROUND_INCOMPATIBLE_CONTENT",
            "incompatible_content_ground": "Conditions d'utilisation, § 4.2",
            "incompatible_content_explanation": "Contenu de santé trompeur.",
            "incompatible_content_illegal": True}
    assert _decide(stack, delivered_notice, both).status_code == 201


def test_territorial_scope_must_be_eu_or_eea(stack, delivered_notice):
    for scope, field in ((["US"], "territorial_scope[0]"), (["FR", "CH"], "territorial_scope[1]"),
                         (["fr"], "territorial_scope[0]")):
        body = {**RESTRICTED, "territorial_scope": scope}
        assert _errors(_decide(stack, delivered_notice, body)) == [
            {"field": field,
             "message": "must be an EU/EEA country code (ISO 3166-1 alpha-2), EU or EEA"}]


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
