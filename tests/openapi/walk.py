"""Taking the contract at its word on a real stack: each operation's request example,
sent by a demo organisation allowed to send it, to an item brought to where the
operation may be taken. Shared by the contract's tests and by the recording of its
response examples (tests/openapi/recorded.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import yaml

from services.config import ROOT
from services.demo import DEMO_JURISDICTIONS
from services.exchanges.authority import MAGISTRATE_ROLES
from services.exchanges.registry import EXCHANGES

SPEC = yaml.safe_load((ROOT / "openapi" / "vigie.yaml").read_text())


def court_codes(value) -> set[str]:
    if isinstance(value, dict):
        return {value["court_code"]} if "court_code" in value else set().union(
            *map(court_codes, value.values()))
    return set()


def senders(creds: dict, scope: str, example: dict) -> list[str]:
    """The demo organisations holding `scope` that may send `example`: one of the court it
    names, whose magistrates include the role it names (the hub refuses a court or a
    magistrate declared by another)."""
    holders = [org for org, c in creds.items() if scope in c["scopes"]]
    courts = court_codes(example)
    role = (example.get("requesting_authority") or {}).get("magistrate_role")
    return [org for org in holders
            if (not courts or DEMO_JURISDICTIONS.get(org, ("",))[0] in courts)
            and (not role or role in MAGISTRATE_ROLES.get(creds[org]["org_type"], ()))]


def example_of(path: str) -> dict:
    return SPEC["paths"][path]["post"]["requestBody"]["content"]["application/json"]["example"]


def steps_before(exchange_name: str, state: str, action: str) -> list[str]:
    """The shortest run of other steps, each with its own contract example, that brings
    an item from `state` to one where `action` may be taken (e.g. a withdrawal before the
    order's deletion confirmation)."""
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
                result = t.result_for(example_of(f"/v1/{exchange_name}/{{id}}/{t.action}"),
                                      datetime.now(UTC))
                reached = result.state or current
                if reached not in paths:
                    paths[reached] = [*paths[current], t.action]
                    following.append(reached)
        frontier = following
    return next(paths[s] for s in paths if s in target)


# Steps that a rule of the exchange (not a state) makes wait for another step.
AFTER = {"copy": "copy-request"}


def with_uploads(api, example: dict) -> dict:
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


def with_links(stack, actor: str, exchange_name: str, action: str, example: dict) -> dict:
    """The example with each item it links to (an id in a contract example names nothing
    on a fresh hub) replaced by one the actor sent first, from that exchange's example."""
    from tests.conftest import example_for

    example = dict(example)
    for field_name, linked in EXCHANGES[exchange_name].transition(action).links:
        _, body = example_for(linked)
        sent = stack.api(actor).post(f"/v1/{linked}", body)
        assert sent.status_code == 201, sent.text
        example[field_name] = sent.json()["id"]
    return example


def holders_of(stack, scope: str) -> list[str]:
    """The demo organisations holding `scope` ("" for any authenticated client)."""
    return [org for org, c in stack.creds.items() if not scope or scope in c["scopes"]]


def item_for(stack, path: str) -> tuple[dict[str, Any], str]:
    """An item of the step at `path` (`/v1/<exchange>/{id}/<action>`): submitted with its
    collection's own example, delivered, and brought by the other steps' own examples to
    where the step may be taken; and the party that takes it."""
    submit_path, action = path.split("/{id}")[0], path.rsplit("/", 1)[1]
    exchange_name = submit_path.split("/")[2]
    submit = SPEC["paths"][submit_path]["post"]
    submit_example = submit["requestBody"]["content"]["application/json"]["example"]
    sender = senders(stack.creds, submit["security"][0]["oauth2"][0], submit_example)[0]
    item = stack.api(sender).post(submit_path, submit_example).json()
    scope = SPEC["paths"][path]["post"]["security"][0]["oauth2"][0]
    actor = next(org for org in (item["sender"], item["recipient"])
                 if org in holders_of(stack, scope))
    stack.api(item["recipient"]).wait_delivered(item["id"])
    state = stack.api(actor).get(f"{submit_path}/{item['id']}").json()["status"]
    for before in [*steps_before(exchange_name, state, action),
                   *([AFTER[action]] if action in AFTER else [])]:
        step = SPEC["paths"][f"{submit_path}/{{id}}/{before}"]["post"]
        party = next(org for org in (item["sender"], item["recipient"])
                     if step["security"][0]["oauth2"][0] in stack.creds[org]["scopes"])
        done = stack.api(party).post(f"{submit_path}/{item['id']}/{before}",
                                     example_of(f"{submit_path}/{{id}}/{before}"))
        assert done.status_code == 201, done.text
    return item, actor


def take(stack, path: str, item: dict[str, Any], actor: str) -> Any:
    """The step at `path` taken on `item` by `actor` with the step's own example (its
    documents uploaded and its links to other items made first)."""
    submit_path, action = path.split("/{id}")[0], path.rsplit("/", 1)[1]
    example = with_links(stack, actor, submit_path.split("/")[2], action,
                         with_uploads(stack.api(actor), example_of(path)))
    return stack.api(actor).post(path.replace("{id}", item["id"]), example)
