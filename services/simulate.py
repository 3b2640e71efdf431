"""`vigie simulate --as ORG`: a counterpart to develop against. It reads ORG's feed and
takes, for each item that arrives or moves, the steps the exchange allows ORG in the
item's state — acknowledging, answering, deciding, executing… — with the contract's own
example bodies, after a delay; it may refuse where the exchange lets it (a declination)
and may submit, every so often, what ORG can send. A court's or a platform's team runs
`make run`, then this as the other party, and integrates with nobody on the other side.

Only the API is used, with ORG's own credentials: what it does, an integrator's system
could do the same way.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import yaml

from .config import ROOT
from .demo import DemoClient
from .exchanges.definition import Exchange, Transition
from .exchanges.registry import EXCHANGES

# Steps that refuse what was asked (a declination) or contest what was decided (a
# complaint): taken only with the probability `refuse`.
REFUSALS = frozenset({"declination", "complaint"})
# Steps a counterpart never takes on its own: they undo or only annotate.
NEVER = frozenset({"withdrawal"})


@dataclass
class Behaviour:
    delay: float = 2.0                 # seconds between an arrival and the steps taken
    refuse: float = 0.0                # probability of a refusal, where one is allowed
    send: tuple[str, ...] = ()         # exchanges to submit to, every `every` seconds
    every: float = 30.0
    seed: int | None = None


@dataclass
class Simulator:
    client: DemoClient
    org_id: str
    scopes: frozenset[str]
    behaviour: Behaviour = field(default_factory=Behaviour)
    say: Callable[[str], None] = print
    contract: dict[str, Any] = field(default_factory=lambda: yaml.safe_load(
        (ROOT / "openapi" / "vigie.yaml").read_text()))

    def __post_init__(self) -> None:
        self.random = random.Random(self.behaviour.seed)
        self.done: set[tuple[str, str]] = set()      # (item, action) taken once each

    def example(self, path: str) -> dict[str, Any] | None:
        """The contract's example body for an operation; None when it names documents
        or another item this simulator does not have."""
        operation = self.contract["paths"][path]["post"]
        content = operation["requestBody"]["content"]["application/json"]
        body = dict(content.get("example") or {})
        schema = content["schema"]
        required = set(self.contract["components"]["schemas"].get(
            schema.get("$ref", "").rsplit("/", 1)[-1], {}).get("required", []))
        if "documents" in body:
            if "documents" in required:
                return None
            body.pop("documents")
        return body

    def steps_for(self, exchange: Exchange, item: dict[str, Any]) -> list[Transition]:
        """What ORG may do now, in the order the exchange declares it."""
        side = "sender" if item["sender"] == self.org_id else "recipient"
        out = []
        for t in exchange.transitions:
            if t.actor != side or item["status"] not in t.from_states \
                    or t.scope not in self.scopes or t.action in NEVER or t.links \
                    or all(r.state is None for r in t.results) \
                    or (item["id"], t.action) in self.done:
                continue
            if t.action in REFUSALS and self.random.random() >= self.behaviour.refuse:
                continue
            out.append(t)
        refusing = [t for t in out if t.action in REFUSALS]
        return refusing or out

    def act(self, exchange: Exchange, item_id: str) -> None:
        """Take steps on the item until ORG has nothing left to do in its state."""
        base = f"/v1/{exchange.name}"
        while True:
            item = self.client.get(f"{base}/{item_id}")
            steps = self.steps_for(exchange, item)
            body = next(((t, b) for t in steps
                         if (b := self.example(f"{base}/{{id}}/{t.action}")) is not None),
                        None)
            if body is None:
                return
            transition, example = body
            self.done.add((item_id, transition.action))
            after = self._sent(f"{exchange.name} {item_id}: {transition.action}",
                               f"{base}/{item_id}/{transition.action}", example)
            if after is not None:
                self.say(f"{exchange.name} {item_id}: {transition.action} → {after['status']}")

    def _sent(self, what: str, path: str, body: dict[str, Any]) -> dict[str, Any] | None:
        """The hub's answer, or None when it refused (said, with its problem)."""
        try:
            return self.client.post(path, body)
        except RuntimeError as refused:
            self.say(f"{what} refused: {refused}")
            return None

    def submit(self, name: str) -> None:
        body = self.example(f"/v1/{name}")
        if body is None:
            self.say(f"{name}: the contract's example needs documents; nothing sent")
            return
        made = self._sent(f"{name}: submission", f"/v1/{name}", body)
        if made is not None:
            self.say(f"{name} {made['id']}: submitted to {made['recipient']} → "
                     f"{made['status']}")

    def tail(self) -> str:
        """The feed's current end: what arrived before the simulator started is history."""
        after = "0"
        while True:
            page = self.client.get("/v1/feed", after=after, limit=500)
            if page["next"] == after or not page["items"]:
                return page["next"]
            after = page["next"]

    def run(self, seconds: float | None = None, should_stop: Callable[[], bool] = lambda: False,
            after: str | None = None) -> None:
        """Follow the feed (from now, or from `after`) until `seconds` have passed."""
        cursor = self.tail() if after is None else after
        ends = None if seconds is None else time.monotonic() + seconds
        next_send = time.monotonic()
        while not should_stop() and (ends is None or time.monotonic() < ends):
            if self.behaviour.send and time.monotonic() >= next_send:
                for name in self.behaviour.send:
                    self.submit(name)
                next_send = time.monotonic() + self.behaviour.every
            try:
                cursor, busy = self.follow(cursor)
            except (httpx.HTTPError, RuntimeError) as failed:
                # The hub restarting, a network hiccup: said, then tried again; the cursor
                # is only moved past what was handled.
                self.say(f"the hub did not answer ({failed}); trying again")
                busy = False
            if not busy:
                time.sleep(0.5)

    def follow(self, cursor: str) -> tuple[str, bool]:
        """Handle one page of the feed after `cursor`; the next cursor, and whether the
        page had anything."""
        page = self.client.get("/v1/feed", after=cursor, limit=100)
        for entry in page["items"]:
            event = entry["event"]
            exchange = EXCHANGES.get(event["type"].removeprefix(
                "fr.gouv.vigie.").rsplit(".", 1)[0])
            if exchange is not None and not event["data"].get("redacted"):
                time.sleep(self.behaviour.delay)
                self.act(exchange, event["subject"])
            cursor = entry["cursor"]
        return page["next"], bool(page["items"])
