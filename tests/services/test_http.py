"""The request body's two validators agree: the compiled fast path accepts exactly the
bodies for which jsonschema lists no invalid field, over the contract's examples mutated
field by field and over schemathesis' generated bodies (valid and invalid). Pure: no
broker, no database."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from connexion.spec import Specification
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from services.config import ROOT
from services.http import BodySchema, field_errors

SPEC = ROOT / "openapi" / "vigie.yaml"


def _json_operations() -> list[tuple[str, str, dict, Any]]:
    """(method, path, resolved body schema, example) of every JSON-bodied operation."""
    spec = Specification.load(SPEC)
    out = []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            content = op.get("requestBody", {}).get("content", {}) if isinstance(op, dict) else {}
            if "application/json" in content:
                media = content["application/json"]
                out.append((method.upper(), path, media["schema"], media.get("example")))
    return out


OPERATIONS = _json_operations()
IDS = [f"{m} {p}" for m, p, _, _ in OPERATIONS]
# Values that each break some keyword: types, lengths, formats, enums, patterns (with
# non-ASCII digits and letters), numbers that are almost integers, deep nesting.
REPLACEMENTS: list[Any] = [
    None, True, 0, -1, 1.5, 1.0, 10**20, "", " ", "x" * 5000, "2024-02-30",
    "2024-13-01T00:00:00Z", "2024-01-01T25:00:00Z", "2024-01-01", "2024-01-01T00:00:00",
    "٢٠٢٤-٠١-٠١", "not an email", "a@b", "https://example.org/x", "ftp://x", "é" * 300,
    [], [1, "1"], ["a", "a"], {}, {"unknown": 1}, [[[[[]]]]], "\x00", "\u2028",
]


def _paths(value: Any, prefix: tuple = ()) -> Iterator[tuple]:
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from _paths(child, (*prefix, i))


def _set(body: Any, path: tuple, value: Any, delete: bool = False) -> Any:
    out = copy.deepcopy(body)
    if not path:
        return value
    parent = out
    for part in path[:-1]:
        parent = parent[part]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return out


def mutations(example: Any) -> Iterator[Any]:
    """The example itself, then each field replaced by each value, deleted, and an unknown
    member added beside it."""
    yield example
    for path in _paths(example):
        for value in REPLACEMENTS:
            yield _set(example, path, value)
        if path:
            yield _set(example, path, None, delete=True)
        target = example
        for part in path:
            target = target[part]
        if isinstance(target, dict):
            yield _set(example, (*path, "zz_unknown"), "x")


def agree(schema: BodySchema, body: Any) -> None:
    listed = field_errors(schema.reference, body)
    assert schema.fast.is_valid(body) == (not listed), (
        f"fast path {'accepts' if schema.fast.is_valid(body) else 'refuses'} a body for "
        f"which jsonschema lists {listed}: {json.dumps(body, ensure_ascii=False)[:300]}")


@pytest.mark.parametrize("method,path,schema,example", OPERATIONS, ids=IDS)
def test_fast_path_agrees_on_mutated_examples(method, path, schema, example):
    assert example is not None, f"{method} {path} has no request example in the contract"
    body_schema = BodySchema(schema)
    assert body_schema.errors(example) == [], "the contract's own example must be valid"
    count = 0
    for body in mutations(example):
        agree(body_schema, body)
        count += 1
    assert count > 50


@pytest.mark.parametrize("method,path,schema,example", OPERATIONS, ids=IDS)
def test_fast_path_agrees_on_generated_bodies(method, path, schema, example):
    operation = schemathesis.openapi.from_path(SPEC)[path][method]
    body_schema = BodySchema(schema)
    seen = {"valid": 0, "invalid": 0}

    # Derandomized: the same bodies every run. Each mode drawn on its own: a union of the
    # two strategies could draw only valid bodies for a small schema (it did, for one).
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        @settings(max_examples=30, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy(generation_mode=mode))
        def check(case):
            body = case.body
            if isinstance(body, (dict, list, str, int, float, bool)) or body is None:
                agree(body_schema, body)
                kind = "valid" if not field_errors(body_schema.reference, body) else "invalid"
                seen[kind] += 1

        check()
    assert seen["valid"] and seen["invalid"], seen


def test_a_refused_body_lists_every_invalid_field():
    method, path, schema, example = next(o for o in OPERATIONS
                                         if o[1] == "/v1/information-requests")
    body = dict(example, recipient=7, zz_unknown=1)
    body.pop(next(iter(schema["required"])))
    errors = BodySchema(schema).errors(body)
    fields = {e["field"] for e in errors}
    assert {"recipient", "zz_unknown", next(iter(schema["required"]))} <= fields, errors
