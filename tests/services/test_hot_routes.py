"""The creating POSTs answer the same whether the routes compiled from the contract serve
them or connexion does: the same status, problem, listed fields and headers, for valid
requests and for every kind of refusal — the second app below is the same hub with the
hot routes off."""

from __future__ import annotations

import dataclasses
import json
import re
import uuid

import pytest

from services.app import create_app
from services.metrics import HOT_ROUTES
from tests.conftest import NO_ACTION, example_notice, example_notification, request_from

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_URL_ID = re.compile(r"watch\?v=[0-9a-f]{10}")  # each notice's own URL (example_notice)
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(\+00:00|Z)")
_REQUEST = re.compile(r"urn:vigie:request:[A-Za-z0-9._:-]+")  # each request's own id
_HEADERS = ("content-type", "location", "idempotent-replayed", "retry-after",
            "www-authenticate")


def _shape(resp) -> tuple:
    """What must not differ between the two paths (ids and instants aside)."""
    text = _URL_ID.sub("watch?v=<v>", _TIME.sub("<time>", _UUID.sub("<id>", _REQUEST.sub(
        "urn:vigie:request:<id>", resp.text))))
    body = json.loads(text) if text.strip() else None
    headers = {h: _UUID.sub("<id>", resp.headers[h]) for h in _HEADERS if h in resp.headers}
    return resp.status_code, headers, body


@pytest.fixture(scope="module")
def connexion_only(stack):
    app = create_app(dataclasses.replace(stack.settings, hot_routes=False))
    return app.test_client(base_url="http://127.0.0.1")


def _served() -> float:
    return HOT_ROUTES.labels("served")._value.get()


def _both(stack, connexion_only, path: str, body=None, headers=None, key="auto",
          content: bytes | None = None):
    """The same request through each app (each with its own Idempotency-Key, unless the
    test gives one; `body` may be a function, called for each); their answers, and
    whether the hot routes served each."""
    answers = []
    served = []
    for client in (stack.http, connexion_only):
        h = dict(headers or {})
        if key == "auto":
            h["Idempotency-Key"] = str(uuid.uuid4())
        elif key is not None:
            h["Idempotency-Key"] = key
        before = _served()
        if content is not None:
            resp = client.post(path, content=content, headers=h)
        else:
            resp = client.post(path, json=body() if callable(body) else body, headers=h)
        served.append(_served() > before)
        answers.append(resp)
    return answers, served


def _auth(stack, org: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {stack.token(org)}"}


def test_valid_submissions_are_served_by_the_hot_routes_and_answered_alike(stack,
                                                                          connexion_only):
    # Each notice names its own URL: the second would be linked as the first's duplicate.
    cases = [("/v1/information-requests", "tj-paris", request_from("tj-paris")),
             ("/v1/order-notifications", "pr-paris", example_notification()),
             ("/v1/content-notices", "vigilance-alpha", example_notice)]
    for path, org, body in cases:
        (hot, plain), served = _both(stack, connexion_only, path, body, _auth(stack, org))
        assert served == [True, False], path
        assert hot.status_code == 201, hot.text
        assert _shape(hot) == _shape(plain)


def test_every_refusal_is_connexions_own(stack, connexion_only):
    """Refused by the contract (the hot routes pass them on) or by the handler (answered
    there with the app's error handlers): the two paths agree on each."""
    court = _auth(stack, "tj-paris")
    good = request_from("tj-paris")
    wrong_types = {**good, "recipient": 42, "extra": True}
    del wrong_types["case_references"]
    forged = {"Authorization": "Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2lnbmF0dXJl"}
    cases = [
        ("invalid fields", "/v1/information-requests", wrong_types, court, "auto", None),
        ("broken JSON", "/v1/information-requests", None, court, "auto", b'{"recipient": '),
        ("empty body", "/v1/information-requests", None, court, "auto", b""),
        ("no Idempotency-Key", "/v1/information-requests", good, court, None, None),
        ("a key the hub refuses", "/v1/information-requests", good, court, "a key", None),
        ("an over-long key", "/v1/information-requests", good, court, "k" * 300, None),
        ("no token", "/v1/information-requests", good, {}, "auto", None),
        ("a forged token", "/v1/information-requests", good, forged, "auto", None),
        ("a scope it lacks", "/v1/information-requests", good,
         _auth(stack, "plateforme-alpha"), "auto", None),
        ("a recipient of the wrong type", "/v1/information-requests",
         {**good, "recipient": "plateforme-alpha"}, court, "auto", None),
        ("a query string", "/v1/information-requests?x=1", good, court, "auto", None),
        ("another media type", "/v1/information-requests", None,
         {**court, "Content-Type": "text/plain"}, "auto", json.dumps(good).encode()),
        ("a step on an item it cannot see", f"/v1/content-notices/{uuid.uuid4()}/decision",
         NO_ACTION, _auth(stack, "plateforme-alpha"), "auto", None),
    ]
    for name, path, body, headers, key, content in cases:
        (hot, plain), _ = _both(stack, connexion_only, path, body, headers, key=key,
                                content=content)
        assert hot.status_code >= 400, (name, hot.text)
        assert _shape(hot) == _shape(plain), name


def test_idempotent_replays_and_reused_keys_alike(stack, connexion_only):
    court = _auth(stack, "tj-paris")
    body = request_from("tj-paris")
    key = str(uuid.uuid4())
    first = stack.http.post("/v1/information-requests", json=body,
                            headers={**court, "Idempotency-Key": key})
    assert first.status_code == 201
    (hot, plain), served = _both(stack, connexion_only, "/v1/information-requests", body,
                                 court, key=key)
    assert served[0] and hot.headers.get("idempotent-replayed") == "true"
    assert hot.json() == first.json()
    assert _shape(hot) == _shape(plain)
    other = {**body, "questions": ["Une autre question ?"]}
    (hot, plain), _ = _both(stack, connexion_only, "/v1/information-requests", other, court,
                            key=key)
    assert hot.status_code == 422, hot.text
    assert _shape(hot) == _shape(plain)


def test_a_lifecycle_step_through_both_paths(stack, connexion_only):
    notifier, platform = _auth(stack, "vigilance-alpha"), _auth(stack, "plateforme-alpha")
    ids = []
    for client in (stack.http, connexion_only):
        resp = client.post("/v1/content-notices", json=example_notice(),
                           headers={**notifier, "Idempotency-Key": str(uuid.uuid4())})
        assert resp.status_code == 201, resp.text
        ids.append(resp.json()["id"])
    answers = []
    for client, item_id in zip((stack.http, connexion_only), ids, strict=True):
        before = _served()
        answers.append(client.post(f"/v1/content-notices/{item_id}/decision", json=NO_ACTION,
                                   headers={**platform, "Idempotency-Key": str(uuid.uuid4())}))
        assert (_served() > before) == (client is stack.http)
    assert answers[0].status_code == 201, answers[0].text
    assert _shape(answers[0]) == _shape(answers[1])
    # The same step again: the item is decided already (409, from the handler).
    again = [client.post(f"/v1/content-notices/{item_id}/decision", json=NO_ACTION,
                         headers={**platform, "Idempotency-Key": str(uuid.uuid4())})
             for client, item_id in zip((stack.http, connexion_only), ids, strict=True)]
    assert again[0].status_code == 409
    assert _shape(again[0]) == _shape(again[1])


def test_repeated_headers_count_by_their_first_on_both_paths(stack, connexion_only):
    court = _auth(stack, "tj-paris")["Authorization"]
    answers, served = [], []
    for client in (stack.http, connexion_only):
        key = str(uuid.uuid4())
        headers = [("authorization", court), ("authorization", "Bearer forged"),
                   ("idempotency-key", key), ("idempotency-key", "a second key")]
        before = _served()
        answers.append(client.post("/v1/information-requests", json=request_from("tj-paris"),
                                   headers=headers))
        served.append(_served() > before)
    assert served == [True, False]
    assert answers[0].status_code == 201, answers[0].text
    assert _shape(answers[0]) == _shape(answers[1])
