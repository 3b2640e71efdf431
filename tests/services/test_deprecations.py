"""Withdrawing an operation: the contract dates it (`x-deprecated-since`, `x-sunset`), and
every answer of it carries Deprecation (RFC 9745), Sunset (RFC 8594) and Link headers —
on connexion's path and on the hot routes alike."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from services.app import create_app
from services.config import ROOT
from services.deprecations import DeprecationError, deprecation_headers
from tests.conftest import example_request


def _spec(**operation) -> dict:
    return {"paths": {"/v1/old": {"get": {"operationId": "old.read", **operation}}}}


def test_the_headers_of_a_dated_deprecation():
    headers = deprecation_headers(_spec(**{
        "deprecated": True, "x-deprecated-since": "2026-12-06", "x-sunset": "2027-06-30",
        "x-successor": "/v2/new"}))
    assert headers == {"old.read": [
        (b"deprecation", b"@1796515200"),
        (b"sunset", b"Wed, 30 Jun 2027 23:59:59 GMT"),
        (b"link", b'</v2/new>; rel="successor-version"')]}
    assert deprecation_headers(_spec()) == {}


@pytest.mark.parametrize("operation", [
    {"deprecated": True},
    {"deprecated": True, "x-sunset": "2027-06-30"},
    {"deprecated": True, "x-deprecated-since": "2027-06-30", "x-sunset": "2027-01-01"},
    {"deprecated": True, "x-deprecated-since": "soon", "x-sunset": "2027-01-01"},
])
def test_an_undated_deprecation_is_a_contract_error(operation):
    with pytest.raises(DeprecationError):
        deprecation_headers(_spec(**operation))


def test_the_contract_dates_every_deprecation():
    deprecation_headers(yaml.safe_load((ROOT / "openapi" / "vigie.yaml").read_text()))


@pytest.fixture
def withdrawing(stack, tmp_path) -> object:
    """The hub on a copy of its contract that withdraws a read and a creating POST."""
    contract = yaml.safe_load((ROOT / "openapi" / "vigie.yaml").read_text())
    dated = {"deprecated": True, "x-deprecated-since": "2026-12-06", "x-sunset": "2027-06-30"}
    contract["paths"]["/v1/clients/self/secrets"]["get"].update(
        dated, **{"x-successor": "/v1/clients/self/keys"})
    contract["paths"]["/v1/information-requests"]["post"].update(dated)
    path = Path(tmp_path) / "vigie.yaml"
    path.write_text(yaml.safe_dump(contract, sort_keys=False, allow_unicode=True))
    app = create_app(dataclasses.replace(stack.settings), stack.hub, contract=path)
    return app.test_client(base_url="http://127.0.0.1")


def test_answers_of_a_withdrawn_operation_say_so(stack, withdrawing):
    court = stack.api("tj-paris")
    listed = withdrawing.get("/v1/clients/self/secrets", headers=court.headers)
    assert listed.status_code == 200
    assert listed.headers["deprecation"] == "@1796515200"
    assert listed.headers["sunset"] == "Wed, 30 Jun 2027 23:59:59 GMT"
    assert listed.headers["link"] == '</v1/clients/self/keys>; rel="successor-version"'
    # A refusal of it too (the client reads its logs, not only its successes).
    refused = withdrawing.get("/v1/clients/self/secrets")
    assert refused.status_code == 401 and refused.headers["sunset"]
    # The hot route of a creating POST.
    created = withdrawing.post("/v1/information-requests", json=example_request(),
                               headers={**court.headers, "Idempotency-Key": "dep-1"})
    assert created.status_code == 201, created.text
    assert created.headers["deprecation"] == "@1796515200"
    # What is not withdrawn carries nothing.
    feed = withdrawing.get("/v1/feed", headers=court.headers)
    assert feed.status_code == 200 and "deprecation" not in feed.headers
