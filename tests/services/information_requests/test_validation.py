"""Bad input: every case answered 4xx problem+json listing the fields, nothing stored."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.conftest import example_answer, example_request

REQUIRED = ["recipient", "requesting_authority", "case_references", "prosecuted_offence",
            "subject", "questions", "due_date"]




def _problem(resp, status: int) -> dict:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    body = resp.json()
    assert body["status"] == status and body["type"].startswith("https://") and body["title"]
    return body




@pytest.mark.parametrize("missing", REQUIRED)
def test_each_required_field_missing(stack, nothing_stored, missing):
    body = example_request()
    del body[missing]
    problem = _problem(stack.api("tj-paris").post("/v1/information-requests", body), 422)
    assert problem["errors"] == [{"field": missing, "message": "required"}]


def test_every_invalid_field_is_listed(stack, nothing_stored):
    body = example_request(
        recipient=42, questions="one question", due_date="31/12/2099", surprise=True,
        requesting_authority={"court_code": "tj paris", "magistrate_role": "sheriff", "x": 1},
        subject={"movement": ""},
    )
    problem = _problem(stack.api("tj-paris").post("/v1/information-requests", body), 422)
    assert problem["errors"] == [
        {"field": "due_date", "message": "must be a valid date"},
        {"field": "questions", "message": "must be of type array"},
        {"field": "recipient", "message": "must be of type string"},
        {"field": "requesting_authority.court_code",
         "message": "does not have the expected format"},
        {"field": "requesting_authority.magistrate_role",
         "message": "must be one of procureur_republique, procureur_adjoint, substitut, "
                    "procureur_general, avocat_general, substitut_general, juge_instruction, "
                    "juge_enfants, president_juridiction, juge_siege, juge_libertes_detention, "
                    "president_chambre_instruction, conseiller_chambre_instruction, "
                    "president_cour_assises, president_cour_criminelle"},
        {"field": "requesting_authority.x", "message": "unknown field"},
        {"field": "subject.movement", "message": "must not be empty"},
        {"field": "surprise", "message": "unknown field"},
    ]


def test_rules_beyond_the_schema(stack, nothing_stored):
    body = example_request(due_date="2001-01-01", case_references={},
                           subject={"persons": ["X"]})
    problem = _problem(stack.api("tj-paris").post("/v1/information-requests", body), 422)
    assert [e["field"] for e in problem["errors"]] == ["case_references", "due_date", "subject"]


def test_text_length_limits(stack, nothing_stored):
    body = example_request(questions=["x" * 4001], subject={"movement": "m" * 301})
    problem = _problem(stack.api("tj-paris").post("/v1/information-requests", body), 422)
    assert problem["errors"] == [
        {"field": "questions[0]", "message": "must be at most 4000 characters"},
        {"field": "subject.movement", "message": "must be at most 300 characters"},
    ]


@pytest.mark.parametrize("raw,detail", [
    (b'{"recipient": "miviludes",', "not valid JSON"),
    (b"\xff\xfe{}", "not valid UTF-8"),
    (b'{"a": NaN}', "not valid JSON"),
    (b'{"a": 1, "a": 2}', "duplicate member name"),
    (b"[" * 100000 + b"]" * 100000, "not valid JSON"),
])
def test_broken_bodies(stack, nothing_stored, raw, detail):
    resp = stack.api("tj-paris").post("/v1/information-requests", content=raw,
                                      headers={"Content-Type": "application/json"})
    assert detail in _problem(resp, 400)["detail"]


def test_huge_body(stack, nothing_stored):
    huge = json.dumps(example_request(questions=["q" * 3000] * 100)).encode()
    assert len(huge) > 256 * 1024
    resp = stack.api("tj-paris").post("/v1/information-requests", content=huge,
                                      headers={"Content-Type": "application/json"})
    _problem(resp, 413)


def test_chunked_body_needs_a_length(stack, nothing_stored):
    def chunks():
        yield b'{"questions": ["'
        for _ in range(300):
            yield b"x" * 1024
        yield b'"]}'

    resp = stack.api("tj-paris").post("/v1/information-requests", content=chunks(),
                                      headers={"Content-Type": "application/json"})
    _problem(resp, 411)


@pytest.mark.parametrize("body", [[], "text", 3, None])
def test_not_an_object(stack, nothing_stored, body):
    resp = stack.api("tj-paris").post("/v1/information-requests", content=json.dumps(body),
                                      headers={"Content-Type": "application/json"})
    assert resp.status_code in (400, 422)
    assert resp.headers["content-type"] == "application/problem+json"


def test_wrong_content_type(stack, nothing_stored):
    resp = stack.api("tj-paris").post("/v1/information-requests", content=b"a=b",
                                      headers={"Content-Type": "text/plain"})
    _problem(resp, 415)


def test_query_parameters_are_checked(stack):
    resp = stack.api("tj-paris").get("/v1/information-requests", limit="many", role="x", foo="1")
    problem = _problem(resp, 400)
    assert sorted(e["field"] for e in problem["errors"]) == ["query:foo", "query:limit",
                                                             "query:role"]
    assert _problem(stack.api("tj-paris").get("/v1/feed", after="-1"), 422)
    assert _problem(stack.api("tj-paris").get("/v1/feed", limit=100000), 400)


def test_step_bodies_are_validated(stack):
    court, miviludes = stack.api("tj-paris"), stack.api("miviludes")
    item = court.post("/v1/information-requests", example_request()).json()
    miviludes.wait_delivered(item["id"])
    path = f"/v1/information-requests/{item['id']}"
    problem = _problem(miviludes.post(f"{path}/answer", {"texte": "x"}), 422)
    assert problem["errors"] == [{"field": "notice_acknowledged", "message": "required"},
                                 {"field": "signed_by", "message": "required"},
                                 {"field": "signed_on", "message": "required"},
                                 {"field": "text", "message": "required"},
                                 {"field": "texte", "message": "unknown field"}]
    problem = _problem(miviludes.post(f"{path}/acknowledgement",
                                      {"expected_answer_date": "2000-01-01"}), 422)
    assert problem["errors"] == [{"field": "expected_answer_date",
                                  "message": "must not be in the past"}]
    assert court.get(path).json()["status"] == "submitted"


def test_unknown_routes_and_methods_are_problems(stack):
    api = stack.api("tj-paris")
    _problem(api.get("/v1/nothing-here"), 404)
    resp = stack.http.delete("/v1/feed", headers=api.headers)
    _problem(resp, 405)


def test_only_the_designated_services_receive_requests(stack, nothing_stored):
    """Art. 157-3 CPP and the arrêté of 15 April 2025: Miviludes and the DGS, from the
    dated table — not any state service in the registry."""
    from services.organisations.service import add_organisation

    org_id = f"ars-{uuid.uuid4().hex[:6]}"
    with stack.hub.db.transaction() as session:
        add_organisation(session, org_id, "state_service", "Agence régionale de santé")
    problem = _problem(stack.api("tj-paris").post(
        "/v1/information-requests", example_request(recipient=org_id)), 422)
    assert problem["errors"] == [{"field": "recipient", "message": "must be one of the "
                                  "services designated for art. 157-3 CPP: miviludes, dgs"}]


def test_the_service_is_shown_the_notice_and_must_acknowledge_it(stack):
    court, miviludes = stack.api("tj-paris"), stack.api("miviludes")
    item = court.post("/v1/information-requests", example_request()).json()
    entry = miviludes.wait_delivered(item["id"])
    notice = entry["event"]["data"]["notice"]
    assert "débat contradictoire" in notice and "appréciation des faits" in notice
    path = f"/v1/information-requests/{item['id']}/answer"
    problem = _problem(miviludes.post(path, example_answer(notice_acknowledged=False)), 422)
    assert [e["field"] for e in problem["errors"]] == ["notice_acknowledged"]
    answered = miviludes.post(path, example_answer())
    assert answered.status_code == 201, answered.text
    step = answered.json()["steps"][-1]["content"]
    assert step["signed_by"]["capacity"] and step["signed_on"]
