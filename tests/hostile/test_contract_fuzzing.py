"""Schemathesis against the live app: generated and mutated requests for every operation
of the contract; no 5xx, and every response conforms to the contract."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from services.app import create_app

FUZZED: list[str] = []


@pytest.fixture(scope="module")
def fuzz_schema(stack):
    app = create_app(stack.settings, stack.hub)
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def _operations():
    import yaml

    from services.config import ROOT

    spec = yaml.safe_load((ROOT / "openapi" / "vigie.yaml").read_text())
    return [(m.upper(), p) for p, item in spec["paths"].items() for m in item
            if p.startswith("/v1/")]


@pytest.mark.parametrize("method,path", _operations())
def test_operation_under_fuzzing(stack, fuzz_schema, method, path):
    operation = fuzz_schema[path][method]
    token = stack.token("tj-paris")

    strategy = operation.as_strategy()

    @settings(max_examples=15, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def check(case):
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
        response = case.call()
        FUZZED.append(f"{method} {path}")
        case.validate_response(response, checks=[
            not_a_server_error, status_code_conformance, content_type_conformance,
            response_schema_conformance])

    check()
