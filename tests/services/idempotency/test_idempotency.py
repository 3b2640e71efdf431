"""Idempotency-Key: same key and body → first answer; another body → 422; none → 400."""

from __future__ import annotations

import threading
import uuid

from sqlalchemy import func, select

from services.exchanges.models import Item
from tests.conftest import example_answer, example_request, request_from


def _items(stack) -> int:
    with stack.hub.db.sessions() as session:
        return session.scalar(select(func.count()).select_from(Item))


def test_same_key_same_body_returns_the_first_answer(stack):
    court = stack.api("tj-paris")
    key = str(uuid.uuid4())
    first = court.post("/v1/information-requests", request_from(court.org_id), key=key)
    before = _items(stack)
    second = court.post("/v1/information-requests", request_from(court.org_id), key=key)
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert _items(stack) == before


def test_same_key_other_body_is_422(stack):
    court = stack.api("tj-paris")
    key = str(uuid.uuid4())
    assert court.post("/v1/information-requests", example_request(), key=key).status_code == 201
    before = _items(stack)
    other = court.post("/v1/information-requests", example_request(questions=["Autre ?"]),
                       key=key)
    assert other.status_code == 422
    assert other.json()["errors"][0]["field"] == "header:Idempotency-Key"
    assert _items(stack) == before


def test_missing_or_bad_key_is_400(stack):
    court = stack.api("tj-paris")
    before = _items(stack)
    resp = court.post("/v1/information-requests", example_request(), key=None)
    assert resp.status_code == 400
    assert resp.json()["errors"] == [{"field": "header:Idempotency-Key", "message": "required"}]
    assert court.post("/v1/information-requests", example_request(),
                      key="a key with spaces").status_code == 400
    assert _items(stack) == before


def test_keys_belong_to_their_client(stack):
    key = str(uuid.uuid4())
    a = stack.api("tj-paris").post("/v1/information-requests", example_request(), key=key)
    b = stack.api("tj-lyon").post("/v1/information-requests", example_request(), key=key)
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]


def test_steps_are_idempotent_too(stack):
    court, miviludes = stack.api("tj-paris"), stack.api("miviludes")
    item = court.post("/v1/information-requests", example_request()).json()
    miviludes.wait_delivered(item["id"])
    key = str(uuid.uuid4())
    path = f"/v1/information-requests/{item['id']}/answer"
    first = miviludes.post(path, example_answer(text="réponse"), key=key)
    again = miviludes.post(path, example_answer(text="réponse"), key=key)
    assert first.status_code == again.status_code == 201
    assert len(again.json()["steps"]) == 1


def test_concurrent_requests_with_one_key_create_one_item(stack):
    court = stack.api("pr-paris")
    key = str(uuid.uuid4())
    before = _items(stack)
    results = []

    def send():
        results.append(court.post("/v1/information-requests", request_from(court.org_id), key=key))

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {r.status_code for r in results} == {201}
    assert len({r.json()["id"] for r in results}) == 1
    assert _items(stack) == before + 1
