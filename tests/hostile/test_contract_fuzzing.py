"""Schemathesis against the live app: generated and mutated requests for every operation
of the contract; no 5xx, and every response conforms to the contract."""

from __future__ import annotations

import time

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
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


# A caller of every organisation type, so that the sweep reaches past the authorisation
# checks of every operation (a court's token alone is refused by most of them).
CALLERS = ("tj-paris", "pr-paris", "miviludes", "cnop", "plateforme-alpha", "arcom",
           "vigilance-alpha", "exploitation")
SLOWEST: list[float] = [0.0]


@pytest.mark.parametrize("method,path", _operations())
def test_operation_under_fuzzing(stack, fuzz_schema, method, path):
    operation = fuzz_schema[path][method]
    tokens = {org: stack.token(org) for org in CALLERS}
    strategy = operation.as_strategy()

    @settings(max_examples=20, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=strategy, org=st.sampled_from(CALLERS))
    def check(case, org):
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {tokens[org]}"}
        started = time.monotonic()
        response = case.call()
        elapsed = time.monotonic() - started
        SLOWEST[0] = max(SLOWEST[0], elapsed)
        FUZZED.append(f"{method} {path}")
        case.validate_response(response, checks=[
            not_a_server_error, status_code_conformance, content_type_conformance,
            response_schema_conformance])
        # No generated request holds the hub. A bound for a request that hangs, far above
        # any answer (the sweep prints its slowest, ~0.5 s; `make bench` measures
        # latency): 1 s failed once on a loaded fresh CI machine at 1.05 s.
        assert elapsed < 5.0, f"{method} {path} as {org}: {elapsed:.2f} s"

    check()


def test_the_sweep_was_broad():
    if not FUZZED:
        pytest.skip("run with the sweep above")
    assert len(FUZZED) >= 2000, len(FUZZED)
    assert len(set(FUZZED)) == len(_operations())
