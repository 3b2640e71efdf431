"""Refusals: each answered with a precise problem, nothing stored."""

from __future__ import annotations

import pytest

from tests.conftest import example_notification, stored_counts


def _errors(resp) -> list[dict]:
    assert resp.status_code == 422, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    return resp.json()["errors"]


def _with_professional(**changes) -> dict:
    body = example_notification()
    body["professional"] = {**body["professional"], **changes}
    return body


def _with_measure(measure: dict) -> dict:
    return example_notification(measure=measure)


@pytest.mark.parametrize("rpps,message", [
    ("1000123456", "must be 11 digits starting with 1"),
    ("100012345650", "must be 11 digits starting with 1"),
    ("1000123456A", "must be 11 digits starting with 1"),
    ("20001234565", "must be 11 digits starting with 1"),
    ("10001234566", "fails the RPPS check digit (Luhn)"),
])
def test_rpps(stack, nothing_stored, rpps, message):
    resp = stack.api("pr-paris").post("/v1/order-notifications", _with_professional(rpps=rpps))
    assert _errors(resp) == [{"field": "professional.rpps", "message": message}]


def test_unknown_profession(stack, nothing_stored):
    resp = stack.api("pr-paris").post("/v1/order-notifications",
                                      _with_professional(profession="NATUROPATHES"))
    errors = _errors(resp)
    assert errors[0]["field"] == "professional.profession"
    assert errors[0]["message"].startswith("must be one of MEDECINS, CHIRURGIENS_DENTISTES")


def test_conviction_without_finality(stack, nothing_stored):
    resp = stack.api("pr-paris").post("/v1/order-notifications", _with_measure(
        {"type": "conviction", "decision_date": "2025-10-02"}))
    assert _errors(resp) == [
        {"field": "measure.finality", "message": "required for a conviction"},
        {"field": "measure.operative_part", "message": "required for a conviction"}]


def test_judicial_control_without_obligation(stack, nothing_stored):
    resp = stack.api("pr-paris").post("/v1/order-notifications", _with_measure(
        {"type": "judicial_control", "decision_date": "2025-10-02"}))
    assert _errors(resp) == [{"field": "measure.obligations",
                              "message": "a judicial control names obligation 138 12° and/or "
                                         "12° bis"}]
    resp = stack.api("pr-paris").post("/v1/order-notifications", _with_measure(
        {"type": "judicial_control", "decision_date": "2025-10-02", "obligations": []}))
    assert _errors(resp) == [{"field": "measure.obligations",
                              "message": "must have at least 1 items"}]
    resp = stack.api("pr-paris").post("/v1/order-notifications", _with_measure(
        {"type": "judicial_control", "decision_date": "2025-10-02", "obligations": ["138_13"]}))
    assert _errors(resp)[0]["field"] == "measure.obligations[0]"


def test_judicial_control_with_obligations_is_accepted(stack):
    resp = stack.api("pr-paris").post("/v1/order-notifications", _with_measure(
        {"type": "judicial_control", "decision_date": "2025-10-02",
         "obligations": ["138_12", "138_12_bis"]}))
    assert resp.status_code == 201, resp.text


@pytest.mark.parametrize("recipient,field,message", [
    ("cnom", "recipient", "cnom does not govern PHARMACIENS"),
    ("miviludes", "recipient",
     "must be the id of the health_order organisation governing PHARMACIENS"),
    ("nobody", "recipient",
     "must be the id of the health_order organisation governing PHARMACIENS"),
])
def test_recipient_must_govern_the_profession(stack, nothing_stored, recipient, field, message):
    resp = stack.api("pr-paris").post("/v1/order-notifications",
                                      example_notification(recipient=recipient))
    assert _errors(resp) == [{"field": field, "message": message}]


def test_profession_without_an_order_on_the_hub(stack, nothing_stored):
    resp = stack.api("pr-paris").post("/v1/order-notifications",
                                      _with_professional(profession="SAGES_FEMMES"))
    assert _errors(resp) == [{"field": "professional.profession",
                              "message": "no order governing SAGES_FEMMES is registered"}]


def test_every_error_at_once(stack, nothing_stored):
    body = example_notification(case_references={}, person_informed_on="2999-01-01")
    body["professional"]["rpps"] = "10001234566"
    body["measure"] = {"type": "conviction", "decision_date": "2999-01-01",
                       "obligations": ["138_12"]}
    fields = [e["field"] for e in _errors(stack.api("pr-paris").post(
        "/v1/order-notifications", body))]
    assert fields == ["case_references", "measure.decision_date", "measure.finality",
                      "measure.obligations", "measure.operative_part", "person_informed_on",
                      "professional.rpps"]


def test_missing_required_fields(stack, nothing_stored):
    for field in ("professional", "measure", "offences", "case_references"):
        body = example_notification()
        del body[field]
        resp = stack.api("pr-paris").post("/v1/order-notifications", body)
        assert _errors(resp) == [{"field": field, "message": "required"}]


def test_what_d1_13_requires_is_required(stack, nothing_stored):
    """Art. D1-13 CPP: address, nature and place of the activity, and each offence's date,
    place and description; the RPPS number and when the person was informed are not."""
    body = example_notification()
    for name in ("address", "activity", "place_of_practice"):
        del body["professional"][name]
    for name in ("date", "place", "description"):
        del body["offences"][0][name]
    resp = stack.api("pr-paris").post("/v1/order-notifications", body)
    assert _errors(resp) == [{"field": f, "message": "required"} for f in (
        "offences[0].date", "offences[0].description", "offences[0].place",
        "professional.activity", "professional.address", "professional.place_of_practice")]


def test_outcome_for_a_notification_the_caller_did_not_send(stack):
    item = stack.api("pr-paris").post("/v1/order-notifications", example_notification()).json()
    before = stored_counts(stack)
    resp = stack.api("pr-marseille").post(f"/v1/order-notifications/{item['id']}/outcome",
                                          {"outcome": "relaxe", "final": True,
                                           "decision_date": "2025-11-20"})
    assert resp.status_code == 404
    assert stored_counts(stack) == before
    bad = stack.api("pr-paris").post(f"/v1/order-notifications/{item['id']}/outcome",
                                     {"outcome": "pardon", "decision_date": "2999-01-01"})
    assert [e["field"] for e in _errors(bad)] == ["outcome"]
    future = stack.api("pr-paris").post(f"/v1/order-notifications/{item['id']}/outcome",
                                        {"outcome": "relaxe", "final": True,
                                         "decision_date": "2999-01-01"})
    assert _errors(future) == [{"field": "decision_date", "message": "must not be in the future"}]
    assert stored_counts(stack) == before


def test_acknowledgement_needs_a_reference_and_a_delivered_notification(stack):
    item = stack.api("pr-paris").post("/v1/order-notifications", example_notification()).json()
    order = stack.api("cnop")
    order.wait_delivered(item["id"])
    assert _errors(order.post(f"/v1/order-notifications/{item['id']}/acknowledgement", {})) == [
        {"field": "reference", "message": "required"}]
    path = f"/v1/order-notifications/{item['id']}/acknowledgement"
    assert order.post(path, {"reference": "A"}).status_code == 201
    assert order.post(path, {"reference": "B"}).status_code == 409
