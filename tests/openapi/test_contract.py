"""The OpenAPI document is the contract: it is valid, every operation has a handler,
and every request body example is accepted by the running hub from a demo
organisation holding the operation's scope."""

from __future__ import annotations

import pytest
from openapi_spec_validator import validate

from tests.openapi.walk import SPEC, holders_of, item_for, senders, take


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


@pytest.mark.parametrize("path,method,scope,example", list(_operations_with_examples()))
def test_examples_are_accepted(stack, examples, path, method, scope, example):
    """And the answer is the response's example, in shape (tests/openapi/recorded.py)."""
    holders = holders_of(stack, scope)
    assert holders, scope
    if "{id}" in path:
        # A step: first submit the collection's own example, then take the step as the
        # party holding the scope.
        item, actor = item_for(stack, path)
        resp = take(stack, path, item, actor)
    else:
        org = "dgs" if not scope else next(
            org for org in senders(stack.creds, scope, example)
            if stack.creds[org]["org_type"] != "operator")
        resp = stack.api(org).post(path, example)
    examples.check(f"{SPEC['paths'][path][method]['operationId']}.201", resp, 201)


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
