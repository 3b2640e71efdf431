"""The OpenAPI document is the contract: it is valid, every operation has a handler,
and every request body example is accepted by the running hub from a demo
organisation holding the operation's scope."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
import yaml
from openapi_spec_validator import validate

from services.config import ROOT
from services.demo import DEMO_JURISDICTIONS
from services.exchanges.authority import MAGISTRATE_ROLES

SPEC = yaml.safe_load((ROOT / "openapi" / "vigie.yaml").read_text())


def _operations_with_examples():
    for path, item in SPEC["paths"].items():
        for method, op in item.items():
            content = (op.get("requestBody") or {}).get("content", {})
            media = content.get("application/json")
            if media and "example" in media:
                # "" for an operation any authenticated client may call (its own keys).
                scope = (op["security"][0]["oauth2"] or [""])[0]
                yield pytest.param(path, method, scope, media["example"],
                                   id=f"{method.upper()} {path}")


def test_the_document_is_valid_openapi():
    validate(SPEC)


def test_every_operation_has_an_id_and_declares_problems():
    for path, item in SPEC["paths"].items():
        for method, op in item.items():
            assert op.get("operationId"), (method, path)
            if path.startswith("/v1/"):
                assert "default" in op["responses"], (method, path)
                assert op["security"], (method, path)


def test_every_json_body_refuses_unknown_fields():
    def walk(schema, where):
        if schema.get("type") == "object" and "properties" in schema:
            assert schema.get("additionalProperties") is False, where
            for name, sub in schema["properties"].items():
                walk(sub, f"{where}.{name}")
        if schema.get("type") == "array":
            walk(schema["items"], f"{where}[]")

    schemas = SPEC["components"]["schemas"]
    for path, item in SPEC["paths"].items():
        for method, op in item.items():
            media = ((op.get("requestBody") or {}).get("content", {})
                     .get("application/json"))
            if media:
                schema = media["schema"]
                if "$ref" in schema:
                    schema = schemas[schema["$ref"].rsplit("/", 1)[1]]
                walk(schema, f"{method} {path}")


def _court_codes(value) -> set[str]:
    if isinstance(value, dict):
        return {value["court_code"]} if "court_code" in value else set().union(
            *map(_court_codes, value.values()))
    return set()


def _senders(creds: dict, scope: str, example: dict) -> list[str]:
    """The demo organisations holding `scope` that may send `example`: one of the court it
    names, whose magistrates include the role it names (the hub refuses a court or a
    magistrate declared by another)."""
    holders = [org for org, c in creds.items() if scope in c["scopes"]]
    courts = _court_codes(example)
    role = (example.get("requesting_authority") or {}).get("magistrate_role")
    return [org for org in holders
            if (not courts or DEMO_JURISDICTIONS.get(org, ("",))[0] in courts)
            and (not role or role in MAGISTRATE_ROLES.get(creds[org]["org_type"], ()))]


def _example_of(path: str) -> dict:
    return SPEC["paths"][path]["post"]["requestBody"]["content"]["application/json"]["example"]


def _steps_before(exchange_name: str, state: str, action: str) -> list[str]:
    """The shortest run of other steps, each with its own contract example, that brings
    an item from `state` to one where `action` may be taken (e.g. a withdrawal before the
    order's deletion confirmation)."""
    from services.exchanges.registry import EXCHANGES

    exchange = EXCHANGES[exchange_name]
    target = exchange.transition(action).from_states
    paths: dict[str, list[str]] = {state: []}
    frontier = [state]
    while frontier and not target & set(paths):
        following = []
        for current in frontier:
            for t in exchange.transitions:
                if current not in t.from_states or t.action == action:
                    continue
                result = t.result_for(_example_of(f"/v1/{exchange_name}/{{id}}/{t.action}"),
                                      datetime.now(UTC))
                reached = result.state or current
                if reached not in paths:
                    paths[reached] = [*paths[current], t.action]
                    following.append(reached)
        frontier = following
    return next(paths[s] for s in paths if s in target)


# Steps that a rule of the exchange (not a state) makes wait for another step.
AFTER = {"copy": "copy-request"}


def _with_uploads(api, example: dict) -> dict:
    """The example with the documents it names uploaded first by the caller (a document
    id in a contract example names nothing on a fresh hub)."""
    if not example.get("documents"):
        return example
    from tests.services.documents.pdfs import plain_pdf

    ids = []
    for _ in example["documents"]:
        resp = api.post("/v1/documents", content=plain_pdf(),
                        headers={"Content-Type": "application/pdf"})
        assert resp.status_code == 201, resp.text
        ids.append({"id": resp.json()["id"]})
    return {**example, "documents": ids}


def _with_links(stack, actor: str, exchange_name: str, action: str, example: dict) -> dict:
    """The example with each item it links to (an id in a contract example names nothing
    on a fresh hub) replaced by one the actor sent first, from that exchange's example."""
    from services.exchanges.registry import EXCHANGES
    from tests.conftest import example_for

    example = dict(example)
    for field_name, linked in EXCHANGES[exchange_name].transition(action).links:
        _, body = example_for(linked)
        sent = stack.api(actor).post(f"/v1/{linked}", body)
        assert sent.status_code == 201, sent.text
        example[field_name] = sent.json()["id"]
    return example


@pytest.mark.parametrize("path,method,scope,example", list(_operations_with_examples()))
def test_examples_are_accepted(stack, path, method, scope, example):
    holders = [org for org, c in stack.creds.items() if not scope or scope in c["scopes"]]
    assert holders, scope
    if "{id}" in path:
        # A step: first submit the collection's own example, then take the step as the
        # party holding the scope.
        submit_path = path.split("/{id}")[0]
        submit = SPEC["paths"][submit_path]["post"]
        submit_example = submit["requestBody"]["content"]["application/json"]["example"]
        submit_scope = submit["security"][0]["oauth2"][0]
        sender = _senders(stack.creds, submit_scope, submit_example)[0]
        item = stack.api(sender).post(submit_path, submit_example).json()
        actor = next(org for org in (item["sender"], item["recipient"]) if org in holders)
        stack.api(item["recipient"]).wait_delivered(item["id"])
        exchange_name, action = submit_path.split("/")[2], path.rsplit("/", 1)[1]
        state = stack.api(actor).get(f"{submit_path}/{item['id']}").json()["status"]
        for before in [*_steps_before(exchange_name, state, action),
                       *([AFTER[action]] if action in AFTER else [])]:
            step = SPEC["paths"][f"{submit_path}/{{id}}/{before}"]["post"]
            party = next(org for org in (item["sender"], item["recipient"])
                         if step["security"][0]["oauth2"][0] in stack.creds[org]["scopes"])
            done = stack.api(party).post(f"{submit_path}/{item['id']}/{before}",
                                         _example_of(f"{submit_path}/{{id}}/{before}"))
            assert done.status_code == 201, done.text
        resp = stack.api(actor).post(re.sub(r"\{id\}", item["id"], path),
                                     _with_links(stack, actor, exchange_name, action,
                                                 _with_uploads(stack.api(actor), example)))
    else:
        org = "dgs" if not scope else next(
            org for org in _senders(stack.creds, scope, example)
            if stack.creds[org]["org_type"] != "operator")
        resp = stack.api(org).post(path, example)
    assert resp.status_code == 201, resp.text


def test_step_scopes_in_the_contract_match_the_exchange_definitions():
    from services.exchanges.registry import EXCHANGES

    for exchange in EXCHANGES.values():
        base = f"/v1/{exchange.name}"
        assert SPEC["paths"][base]["post"]["security"] == [{"oauth2": [exchange.submit_scope]}]
        assert SPEC["paths"][base]["get"]["security"] == [{"oauth2": [exchange.read_scope]}]
        for t in exchange.transitions:
            op = SPEC["paths"][f"{base}/{{id}}/{t.action}"]["post"]
            assert op["operationId"] == f"{exchange.name}.{t.action}"
            assert op["security"] == [{"oauth2": [t.scope]}]


def test_every_state_an_exchange_reaches_is_in_its_resource_and_filter():
    from services.exchanges.registry import EXCHANGES

    schemas = SPEC["components"]["schemas"]
    for exchange in EXCHANGES.values():
        base = f"/v1/{exchange.name}"
        reached = {exchange.initial_state, exchange.delivered_state} - {None}
        reached |= {r.state for t in exchange.transitions for r in t.results} - {None}
        read = SPEC["paths"][f"{base}/{{id}}"]["get"]["responses"]["200"]
        ref = read.get("$ref") or read["content"]["application/json"]["schema"]["$ref"]
        resource = ref.rsplit("/", 1)[1]
        if ref.startswith("#/components/responses/"):
            response = SPEC["components"]["responses"][resource]
            resource = response["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
        assert set(schemas[resource]["properties"]["status"]["enum"]) == reached, exchange.name
        status = next(p for p in SPEC["paths"][base]["get"]["parameters"]
                      if p.get("name") == "status")
        assert set(status["schema"]["enum"]) == reached, exchange.name
