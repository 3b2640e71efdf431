"""Problems in French for whoever asks (`Accept-Language: fr`), English otherwise — the
title, the detail, every field's message — wherever the problem arose: the contract's
validation, a handler, the edge's refusals."""

from __future__ import annotations

from services.french import prefers_french, problem
from tests.conftest import example_request


def test_the_best_rated_language_decides():
    assert prefers_french("fr")
    assert prefers_french("fr-FR,fr;q=0.9,en;q=0.8")
    assert prefers_french("en;q=0.5, fr-CA;q=0.8")
    assert not prefers_french("en-GB,en;q=0.9,fr;q=0.8")
    assert not prefers_french("de, *;q=0.1")
    assert not prefers_french("fr;q=nonsense, en")
    assert not prefers_french("")


def test_a_problem_translated():
    body = problem({"type": "t", "status": 422, "title": "Invalid request",
                    "detail": "2 invalid field(s)",
                    "errors": [{"field": "due_date", "message": "required"},
                               {"field": "limit", "message": "must be at most 200"},
                               {"field": "x", "message": "an unknown message"}]})
    assert body == {"type": "t", "status": 422, "title": "Requête invalide",
                    "detail": "2 champ(s) invalide(s)",
                    "errors": [{"field": "due_date", "message": "champ obligatoire"},
                               {"field": "limit", "message": "doit valoir au plus 200"},
                               {"field": "x", "message": "an unknown message"}]}
    assert problem({"status": 404, "title": "Not Found", "detail": "no such webhook"})[
        "detail"] == "point de réception (webhook) introuvable"


def test_the_api_answers_problems_in_french_to_whoever_asks(stack):
    court = stack.api("tj-paris")
    bad = {**example_request(), "due_date": "tomorrow", "extra": 1}
    bad.pop("subject")
    french = stack.http.post("/v1/information-requests", json=bad, headers={
        **court.headers, "Idempotency-Key": "fr-1", "Accept-Language": "fr-FR,fr;q=0.9"})
    english = stack.http.post("/v1/information-requests", json=bad, headers={
        **court.headers, "Idempotency-Key": "fr-2", "Accept-Language": "en"})
    assert french.status_code == english.status_code == 422
    assert french.headers["content-language"] == "fr"
    assert "accept-language" in french.headers["vary"].lower()
    assert "content-language" not in english.headers
    fr, en = french.json(), english.json()
    assert (fr["title"], en["title"]) == ("Requête invalide", "Invalid request")
    assert fr["detail"].endswith("champ(s) invalide(s)")
    # The same fields, each said in French.
    assert [e["field"] for e in fr["errors"]] == [e["field"] for e in en["errors"]]
    messages = {e["field"]: e["message"] for e in fr["errors"]}
    assert messages["subject"] == "champ obligatoire"
    assert messages["extra"] == "champ inconnu"
    assert messages["due_date"].startswith("doit être une date valide")
    # The contract's parameters, a handler's 404, the edge's refusals alike.
    params = stack.http.get("/v1/feed?limit=0&colour=red",
                            headers={**court.headers, "Accept-Language": "fr"}).json()
    assert params["title"] == "Paramètres invalides"
    assert {e["message"] for e in params["errors"]} >= {"paramètre inconnu"}
    missing = stack.http.get("/v1/information-requests/0f0f0f0f-0000-4000-8000-000000000000",
                             headers={**court.headers, "Accept-Language": "fr"}).json()
    assert missing["title"] == "Introuvable" and missing["detail"].endswith("introuvable")
    huge = stack.http.post("/v1/information-requests", content=b"{}", headers={
        **court.headers, "Idempotency-Key": "fr-3", "Content-Type": "application/json",
        "Content-Length": str(10**9), "Accept-Language": "fr"})
    assert huge.status_code == 413 and huge.json()["title"] == "Corps trop volumineux"
    # A success is untouched.
    listed = stack.http.get("/v1/information-requests",
                            headers={**court.headers, "Accept-Language": "fr"})
    assert listed.status_code == 200 and "content-language" not in listed.headers
