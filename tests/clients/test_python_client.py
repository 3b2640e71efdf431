"""The Python client generated from the contract (`make client`) speaks to the hub with
nothing written by hand: it logs in, submits every exchange, takes a step, reads its
feed with each event typed by its `type`, and reads problems. A field the hub sends that
the contract does not describe, or a request the contract cannot express, fails here."""

from __future__ import annotations

import importlib
import json
import time
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any, get_type_hints

import attrs
import pytest
import yaml
from vigie_client import AuthenticatedClient, Client
from vigie_client.api.feed import feed_read
from vigie_client.api.oauth import oauth_token
from vigie_client.models import FeedItem, Problem, TokenRequest, TokenResponse
from vigie_client.types import Unset

from services.exchanges.registry import EXCHANGES
from tests.conftest import example_for, example_request

BASE = "http://127.0.0.1"
CONTRACT = yaml.safe_load((Path(__file__).parents[2] / "openapi" / "vigie.yaml").read_text())


def operation(exchange: str, verb: str) -> ModuleType:
    """The generated module of `<exchange>.<verb>` (named after the operation id)."""
    tag = exchange.replace("-", "_")
    return importlib.import_module(f"vigie_client.api.{tag}.{tag}_{verb.replace('-', '_')}")


def body_model(module: ModuleType) -> Any:
    return get_type_hints(module._get_kwargs)["body"]


def login(stack, org_id: str) -> AuthenticatedClient:
    """The organisation's token from the generated token operation (client_secret_post),
    and a client that sends it, over the stack's in-process connection."""
    creds = stack.creds[org_id]
    anonymous = Client(base_url=BASE, httpx_args={"transport": stack.http._transport})
    answer = oauth_token.sync_detailed(client=anonymous, body=TokenRequest.from_dict({
        "grant_type": "client_credentials", "client_id": creds["client_id"],
        "client_secret": creds["client_secret"]}))
    assert answer.status_code == 200, answer.content
    assert isinstance(answer.parsed, TokenResponse)
    return AuthenticatedClient(base_url=BASE, token=answer.parsed.access_token,
                               httpx_args={"transport": stack.http._transport})


def undescribed(value: Any, path: str = "$") -> list[str]:
    """Where the parsed answer holds fields the contract does not name (kept by the
    generated models as `additional_properties`)."""
    found = []
    if attrs.has(type(value)):
        extra = getattr(value, "additional_properties", None) or {}
        found += [f"{path}.{key}" for key in extra]
        for field in attrs.fields(type(value)):
            if field.name != "additional_properties":
                found += undescribed(getattr(value, field.name), f"{path}.{field.name}")
    elif isinstance(value, list):
        for i, element in enumerate(value):
            found += undescribed(element, f"{path}[{i}]")
    return found


def typed(response, model: type) -> Any:
    """The parsed answer, of `model`, describing all of what the hub sent."""
    assert isinstance(response.parsed, model), (response.status_code, response.content)
    assert response.parsed.to_dict() == json.loads(response.content)
    missing = undescribed(response.parsed)
    assert not missing, f"the contract does not describe {missing}"
    return response.parsed


def feed_entry(client: AuthenticatedClient, item_id: str, event: str,
               timeout: float = 30) -> tuple[FeedItem, dict]:
    """The entry for the item's event in the client's feed, typed and as sent."""
    deadline, after = time.monotonic() + timeout, "0"
    while time.monotonic() < deadline:
        answer = feed_read.sync_detailed(client=client, after=after, limit=500)
        assert answer.status_code == 200, answer.content
        raw = json.loads(answer.content)
        for parsed, sent in zip(answer.parsed.items, raw["items"], strict=True):
            if sent["event"]["subject"] == item_id and sent["event"]["type"].endswith(event):
                return parsed, sent
        after = answer.parsed.next_
        time.sleep(0.1)
    raise AssertionError(f"{event} of {item_id} not in the feed")


@pytest.mark.parametrize("exchange", sorted(EXCHANGES))
def test_every_exchange_through_the_generated_client(stack, exchange):
    sender_org, body = example_for(exchange)
    submit = operation(exchange, "submit")
    submission = body_model(submit).from_dict(body)
    # The contract describes the whole submission: nothing is lost on the way.
    assert submission.to_dict() == body
    sender = login(stack, sender_org)
    created = submit.sync_detailed(client=sender, body=submission,
                                   idempotency_key=str(uuid.uuid4()))
    assert created.status_code == 201, created.content
    resource = next(t for t in get_type_hints(operation(exchange, "read").sync)["return"]
                    .__args__ if t not in (Problem, type(None)))
    item = typed(created, resource)

    recipient = login(stack, item.recipient)
    entry, sent = feed_entry(recipient, item.id, ".submitted")
    # The event is typed by its `type` (the contract's discriminator), its data the item.
    stem = "".join(part.title() for part in exchange.split("-"))
    assert type(entry.event).__name__ == f"{stem}SubmittedEvent"
    assert entry.to_dict() == sent
    assert undescribed(entry) == []

    read = operation(exchange, "read").sync_detailed(item.id, client=recipient)
    assert read.status_code == 200, read.content
    assert typed(read, type(item)).id == item.id

    # The recipient's first step, with the contract's own example; the sender is told.
    first = next(t for t in EXCHANGES[exchange].transitions if t.actor == "recipient")
    step = operation(exchange, first.action)
    example = CONTRACT["paths"][f"/v1/{exchange}/{{id}}/{first.action}"]["post"][
        "requestBody"]["content"]["application/json"]["example"]
    stepped = step.sync_detailed(item.id, client=recipient,
                                 body=body_model(step).from_dict(example),
                                 idempotency_key=str(uuid.uuid4()))
    assert stepped.status_code == 201, stepped.content
    assert typed(stepped, type(item)).steps[-1].action == first.action
    event = first.results[0].event
    told, sent = feed_entry(sender, item.id, f".{event}")
    assert type(told.event).__name__ == stem + event.title().replace("_", "") + "Event"
    assert told.to_dict() == sent


def test_an_overseers_views_are_typed(stack):
    """ARCOM reads a notice it is not a party to: part of it without a purpose; all but
    the notifier's identity with one."""
    sender, body = example_for("content-notices")
    created = operation("content-notices", "submit").sync_detailed(
        client=login(stack, sender), body=body_model(operation("content-notices", "submit"))
        .from_dict(body), idempotency_key=str(uuid.uuid4()))
    assert created.status_code == 201, created.content
    read = operation("content-notices", "read")
    arcom = login(stack, "arcom")
    glance = typed(read.sync_detailed(created.parsed.id, client=arcom), type(created.parsed))
    assert "withheld" in glance.to_dict()["content"]
    purposeful = typed(read.sync_detailed(created.parsed.id, client=arcom,
                                          vigie_purpose="Controle du respect du DSA"),
                       type(created.parsed))
    content = purposeful.to_dict()["content"]
    assert "notifier" not in content and content["urls"] == body["urls"]


def test_problems_are_typed(stack):
    court = login(stack, "tj-paris")
    submit = operation("information-requests", "submit")
    # A wrong value the model can carry: no question at all.
    body = example_request()
    invalid = body_model(submit).from_dict(body)
    invalid.questions = []
    wrong = submit.sync_detailed(client=court, body=invalid, idempotency_key=str(uuid.uuid4()))
    assert wrong.status_code == 422
    problem = typed(wrong, Problem)
    assert [e.field for e in problem.errors] == ["questions"]
    assert problem.errors[0].message

    mine = submit.sync_detailed(client=court, body=body_model(submit).from_dict(body),
                                idempotency_key=str(uuid.uuid4()))
    assert mine.status_code == 201, mine.content
    other = operation("information-requests", "read").sync_detailed(
        mine.parsed.id, client=login(stack, "tj-lyon"))
    assert other.status_code == 404
    assert not isinstance(typed(other, Problem).detail, Unset)
