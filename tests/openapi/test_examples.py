"""Every response the contract describes has an example, and the examples are the hub's
own answers: this walk takes every operation on the real stack (the steps' and
submissions' answers are taken by test_contract.test_examples_are_accepted) and checks
each answer against its example, or records it (tests/openapi/recorded.py)."""

from __future__ import annotations

import socket
import time
import uuid

import pytest
from joserfc.jwk import ECKey

from services.exchanges.registry import EXCHANGES
from services.organisations import service as organisations
from services.problems import overloaded, too_many_requests
from tests.conftest import example_request
from tests.openapi.walk import SPEC, example_of, holders_of, item_for, senders, take
from tests.services.documents.pdfs import plain_pdf

METHODS = {"get", "post", "put", "patch", "delete"}


def _responses():
    """Each operation's responses: (operation id, status, the name of the shared response
    it refers to or "", the response object)."""
    for item in SPEC["paths"].values():
        for method in METHODS & item.keys():
            op = item[method]
            for status, response in op["responses"].items():
                if "$ref" in response:
                    name = response["$ref"].rsplit("/", 1)[1]
                    yield op["operationId"], status, name, SPEC["components"]["responses"][name]
                else:
                    yield op["operationId"], status, "", response


def test_every_json_response_has_an_example():
    missing = [f"{op} {status} {media}" for op, status, _, response in _responses()
               for media, content in (response.get("content") or {}).items()
               if media.endswith("json") and not {"example", "examples"} & content.keys()]
    assert not missing, missing


def test_examples_are_named_after_their_operation_and_status():
    """An operation's own example is `<operationId>.<status>` (what the walk records it
    as); a shared response's is named after the response."""
    for op, status, shared, response in _responses():
        for content in (response.get("content") or {}).values():
            for example in (content.get("examples") or {}).values():
                name = example["$ref"].rsplit("/", 1)[1]
                assert name == (shared or f"{op}.{status}"), name
                assert name in SPEC["components"]["examples"], name


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _operation(path: str, method: str) -> str:
    return SPEC["paths"][path][method]["operationId"]


@pytest.mark.parametrize("exchange", sorted(EXCHANGES))
def test_an_items_reads(stack, examples, exchange):
    """The item after its first step, its list, its evidence and bundle (and, for a
    notice, the statement of reasons once decided)."""
    base = f"/v1/{exchange}"
    first = next(t for t in EXCHANGES[exchange].transitions if t.actor == "recipient")
    item, actor = item_for(stack, f"{base}/{{id}}/{first.action}")
    assert take(stack, f"{base}/{{id}}/{first.action}", item, actor).status_code == 201
    party = stack.api(actor)
    examples.check(f"{exchange}.read.200", party.get(f"{base}/{item['id']}"), 200)
    examples.check(f"{exchange}.list.200", party.get(base, limit=1), 200)
    examples.check(f"{exchange}.evidence.200", party.get(f"{base}/{item['id']}/evidence"),
                   200)
    # The bundle waits for a checkpoint covering the item's last step.
    deadline = time.monotonic() + 30
    while (bundle := party.get(f"{base}/{item['id']}/evidence/bundle")).status_code == 404:
        assert time.monotonic() < deadline, bundle.text
        time.sleep(0.2)
    examples.check(f"{exchange}.bundle.200", bundle, 200)
    if exchange == "content-notices":
        decided, platform = item_for(stack, f"{base}/{{id}}/publication")
        examples.check("content-notices.statement-of-reasons.200", stack.api(platform).get(
            f"{base}/{decided['id']}/statement-of-reasons"), 200)


def test_the_feed_documents_statistics_and_oversight(stack, examples):
    body = example_of("/v1/information-requests")
    court = senders(stack.creds, "information-requests:submit", body)[0]
    recipient = stack.api(body["recipient"])
    start = recipient.get("/v1/feed", limit=1).json()["next"]
    while (page := recipient.get("/v1/feed", after=start, limit=500).json())["items"]:
        start = page["next"]
    item = stack.api(court).post("/v1/information-requests", body).json()
    recipient.wait_delivered(item["id"])
    examples.check("feed.read.200", recipient.get("/v1/feed", after=start), 200,
                   lambda page: {**page, "items": [entry for entry in page["items"]
                                                    if entry["event"]["subject"] == item["id"]]})
    # The topic under the default prefix (the suite's stacks have prefixes of their own).
    examples.check("feed.kafka.200", recipient.get("/v1/feed/kafka"), 200,
                   lambda info: {**info, "topic": info["topic"].replace(
                       stack.settings.topic_prefix, "vigie.", 1)})
    examples.check("documents.upload.201", stack.api(court).post(
        "/v1/documents", content=plain_pdf(), headers={"Content-Type": "application/pdf"},
        params={"title": "Réquisition du 3 mars"}), 201)
    for path in ("/v1/statistics", "/v1/oversight/platforms",
                 "/v1/oversight/trusted-flaggers", "/v1/oversight/notices"):
        scope = SPEC["paths"][path]["get"]["security"][0]["oauth2"][0]
        org = holders_of(stack, scope)[0]
        examples.check(f"{_operation(path, 'get')}.200", stack.api(org).get(path), 200)


def test_the_log_and_the_audit(stack, examples):
    """The proofs of a party's own item's evidence, once a checkpoint covers it."""
    body = example_of("/v1/information-requests")
    court = stack.api(senders(stack.creds, "information-requests:submit", body)[0])
    item = court.post("/v1/information-requests", body).json()
    index = court.get(f"/v1/information-requests/{item['id']}/evidence").json()[
        "evidence"][0]["leaf_index"]
    examples.check("verifiable-log.keys.200",
                   stack.http.get("/.well-known/vigie-log-keys.json"), 200)
    deadline = time.monotonic() + 30
    while (size := court.get("/v1/log/checkpoint").json()["size"]) <= index:
        assert time.monotonic() < deadline, (size, index)
        time.sleep(0.2)
    examples.check("verifiable-log.checkpoint.200", court.get("/v1/log/checkpoint", size=size),
                   200)
    examples.check("verifiable-log.consistency.200",
                   court.get("/v1/log/consistency", first=index, second=size), 200)
    examples.check("verifiable-log.inclusion.200",
                   court.get(f"/v1/log/leaves/{index}/inclusion", size=size), 200)
    operator = holders_of(stack, "admin")[0]
    examples.check("audit.read.200", stack.api(operator).get("/v1/admin/audit", limit=1), 200)


def test_tokens_and_health(stack, examples):
    creds = stack.creds["miviludes"]
    token = stack.http.post("/oauth/token", data={"grant_type": "client_credentials"},
                            auth=(creds["client_id"], creds["client_secret"]))
    examples.check("oauth.token.200", token, 200)
    examples.check("oauth.token.400", stack.http.post(
        "/oauth/token", data={"grant_type": "password"},
        auth=(creds["client_id"], creds["client_secret"])), 400)
    examples.check("oauth.token.401", stack.http.post(
        "/oauth/token", data={"grant_type": "client_credentials"},
        auth=(creds["client_id"], "not-the-secret")), 401)
    examples.check("oauth.metadata.200",
                   stack.http.get("/.well-known/oauth-authorization-server"), 200)
    examples.check("oauth.jwks.200", stack.http.get("/.well-known/jwks.json"), 200)
    examples.check("health.healthz.200", stack.http.get("/healthz"), 200)
    examples.check("health.readyz.200", stack.http.get("/readyz"), 200)


def test_a_clients_own_credentials(stack, examples):
    """A new client of its own (the demo clients' credentials are the suite's)."""
    with stack.hub.db.transaction() as session:
        client, secret = organisations.add_client(session, "dgs")
        client_id = client.client_id
    token = stack.http.post("/oauth/token", data={"grant_type": "client_credentials"},
                            auth=(client_id, secret)).json()["access_token"]
    own = stack.api("dgs")
    own.token = token
    examples.check("organisations.list-secrets.200", own.get("/v1/clients/self/secrets"), 200)
    added = examples.check("organisations.add-secret.201",
                           own.post("/v1/clients/self/secrets", key=None), 201)
    examples.check("organisations.add-secret.409",
                   own.post("/v1/clients/self/secrets", key=None), 409)
    examples.check("organisations.revoke-secret.404", stack.http.delete(
        "/v1/clients/self/secrets/cs_0000000000000000", headers=own.headers), 404)
    assert stack.http.delete(f"/v1/clients/self/secrets/{added['id']}",
                             headers=own.headers).status_code == 204
    only = own.get("/v1/clients/self/secrets").json()["items"][0]["id"]
    examples.check("organisations.revoke-secret.409", stack.http.delete(
        f"/v1/clients/self/secrets/{only}", headers=own.headers), 409)

    examples.check("organisations.list-keys.200", own.get("/v1/clients/self/keys"), 200)
    examples.check("organisations.add-key.422", own.post(
        "/v1/clients/self/keys", {"jwk": {"kty": "oct", "k": "c2VjcmV0"}}, key=None), 422)
    keys = [own.post("/v1/clients/self/keys",
                     {"jwk": ECKey.generate_key("P-256").as_dict(private=False)},
                     key=None).json()["id"] for _ in range(2)]
    examples.check("organisations.add-key.409", own.post(
        "/v1/clients/self/keys", {"jwk": ECKey.generate_key("P-256").as_dict(private=False)},
        key=None), 409)
    examples.check("organisations.revoke-key.404", stack.http.delete(
        "/v1/clients/self/keys/ck_0000000000000000", headers=own.headers), 404)
    # With keys, its secret may go; then a key may, never the last one.
    for gone in (f"secrets/{only}", f"keys/{keys[0]}"):
        assert stack.http.delete(f"/v1/clients/self/{gone}",
                                 headers=own.headers).status_code == 204, gone
    examples.check("organisations.revoke-key.409", stack.http.delete(
        f"/v1/clients/self/keys/{keys[1]}", headers=own.headers), 409)


def test_webhooks_and_dead_letters(stack, examples):
    """An endpoint that never answers: its deliveries end as dead letters, which the
    recipient and the operators replay."""
    org = "dgs"
    dgs = stack.api(org)
    hook = examples.check("webhooks.register.201", dgs.post(
        "/v1/webhooks", {"url": f"http://127.0.0.1:{_closed_port()}/vigie"}, key=None), 201)
    try:
        examples.check("webhooks.list-webhooks.200", dgs.get("/v1/webhooks"), 200)
        examples.check("webhooks.rotate-secret.200",
                       dgs.post(f"/v1/webhooks/{hook['id']}/secret", key=None), 200)
        examples.check("webhooks.ping.200",
                       dgs.post(f"/v1/webhooks/{hook['id']}/ping", key=None), 200)
        unknown = str(uuid.uuid4())
        examples.check("webhooks.rotate-secret.404",
                       dgs.post(f"/v1/webhooks/{unknown}/secret", key=None), 404)
        examples.check("webhooks.ping.404", dgs.post(f"/v1/webhooks/{unknown}/ping", key=None),
                       404)
        sent = [stack.api("tj-lyon").post("/v1/information-requests",
                                          example_request(recipient=org)).json()["id"]
                for _ in range(2)]
        events = {dgs.wait_delivered(i)["event"]["id"] for i in sent}
        operator = stack.api(holders_of(stack, "admin")[0])
        deadline = time.monotonic() + 60
        while len(dead := [d for d in operator.get("/v1/admin/dead-letters").json()["items"]
                           if d["message_id"] in events]) < 2:
            assert time.monotonic() < deadline, dead
            time.sleep(0.2)
        examples.check("webhooks.dead-letters.200", operator.get("/v1/admin/dead-letters",
                                                                 limit=1), 200)
        examples.check("webhooks.deliveries.200", dgs.get("/v1/webhooks/deliveries",
                                                          status="dead", limit=1), 200)
        own = f"/v1/webhooks/deliveries/{dead[0]['id']}/replay"
        examples.check("webhooks.replay-own.200", dgs.post(own, key=None), 200)
        examples.check("webhooks.replay-own.409", dgs.post(own, key=None), 409)
        examples.check("webhooks.replay-own.404", dgs.post(
            "/v1/webhooks/deliveries/999999999/replay", key=None), 404)
        examples.check("webhooks.replay.200", operator.post(
            f"/v1/admin/dead-letters/{dead[1]['id']}/replay", key=None), 200)
    finally:
        examples.check("webhooks.delete.200", stack.http.delete(
            f"/v1/webhooks/{hook['id']}", headers=dgs.headers), 200)


def test_an_invalid_submission_is_the_problems_example(stack, examples):
    """The shared problem response's example: every invalid field listed."""
    court = stack.api("tj-paris")
    examples.check("Problem", court.post("/v1/information-requests", example_request(
        questions=[], due_date="demain")), 422)


@pytest.mark.parametrize("name,problem", [
    ("TooManyRequests", too_many_requests("this client's rate limit is reached", 1)),
    ("Unavailable", overloaded())])
def test_the_refusals_examples_are_the_hubs(name, problem):
    """A client's rate limit and the hub's capacity are not reached by a walk on the
    suite's stack: their examples are written by hand, as the hub words them, in the
    form of the recorded problem."""
    response = SPEC["components"]["responses"][name]
    example = response["content"]["application/problem+json"]["example"]
    assert {k: example[k] for k in ("type", "title", "status", "detail")} == {
        "type": problem.type, "title": problem.title, "status": problem.status,
        "detail": problem.detail}
    assert set(example) == set(SPEC["components"]["examples"]["Problem"]["value"]) - {"errors"}


def test_the_not_ready_example_is_the_ready_ones_form():
    """Written by hand too (the walk does not stop the database or the broker)."""
    responses = SPEC["paths"]["/readyz"]["get"]["responses"]
    down = responses["503"]["content"]["application/json"]["example"]
    up = SPEC["components"]["examples"]["health.readyz.200"]["value"]
    assert down["status"] == "not ready" and set(down["checks"]) == set(up["checks"])
    assert "unreachable" in down["checks"].values()
