"""What makes an exchange: who sends to whom, its lifecycle, and its rules.

A new exchange is one `Exchange` value (plus its OpenAPI section and tests); the
storage, messaging, authorisation and delivery code is shared by all of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from ..config import Settings
from ..legal.references import REFERENCES
from ..organisations.directory import Entry, Organisations

FieldErrors = list[dict[str, str]]
Body = dict[str, Any]
# Categories an item or a step is counted under in the statistics (name, value): codes
# and categories only, never what identifies a person; kept when the item is erased.
Facts = list[tuple[str, str]]


class Sender(Protocol):
    org_id: str
    org_type: str


@dataclass(frozen=True)
class Result:
    """Where a step leads: the new state (None: the item keeps its state, for a step
    that only records a fact), the event announcing it, and whether it obliges the hub to
    erase the personal data the item carries."""

    state: str | None
    event: str
    erases: bool = False
    # The next deadline this step sets (None: the item's deadline is unchanged).
    due: Callable[[Body, datetime, Settings], datetime | None] | None = None


@dataclass(frozen=True)
class History:
    """What a step may depend on besides its own body: the item's state, its content and
    the steps taken before (action, body), oldest first."""

    state: str
    content: Body
    steps: tuple[tuple[str, Body, datetime], ...]

    def last(self, action: str) -> Body | None:
        return next((b for a, b, _ in reversed(self.steps) if a == action), None)

    def when(self, action: str) -> datetime | None:
        """When the last `action` step was taken."""
        return next((at for a, _, at in reversed(self.steps) if a == action), None)


@dataclass(frozen=True)
class Transition:
    action: str                          # sub-resource name, e.g. "answer"
    actor: Literal["sender", "recipient"]
    scope: str
    from_states: frozenset[str]
    # Where the step may lead; the first is where it leads unless `decide` says otherwise.
    results: tuple[Result, ...]
    # For steps whose outcome depends on what is sent (e.g. an acquittal retracts), and on
    # the texts in force that day.
    decide: Callable[[Body, datetime], Result] | None = None
    rules: Callable[[Body, datetime], FieldErrors] = lambda body, now: []
    # Checks that depend on the item (e.g. an unblocking not before the term's end).
    item_rules: Callable[[Body, History, datetime], FieldErrors] = (
        lambda body, history, now: [])
    # What the hub adds to the step from the item (e.g. a suspension's end date), before
    # the checks; the step's body as recorded and sent.
    complete: Callable[[Body, History], Body] = lambda body, history: body
    # What the other party is told of the step (None: the step as recorded), e.g. the
    # outcome category of a signalement, never the content of what followed.
    told: Callable[[Body], Body] | None = None
    # A step that sends the item onward: its body is a submission of that exchange, made
    # by the actor in the same commit; the step records where it went.
    onward: Exchange | None = None
    # Fields of the body naming an item of another exchange, (field, exchange name): the
    # actor must be a party to it.
    links: tuple[tuple[str, str], ...] = ()
    facts: Callable[[Body], Facts] = lambda body: []

    def result_for(self, body: Body, now: datetime) -> Result:
        result = self.decide(body, now) if self.decide else self.results[0]
        if result not in self.results:
            raise ValueError(f"{self.action} cannot lead to {result}")
        return result

    @property
    def events(self) -> frozenset[str]:
        return frozenset(r.event for r in self.results)


def _no_rules(body: Body, now: datetime) -> FieldErrors:
    return []


def typed_recipient(directory: Organisations, exchange: Exchange, body: Body,
                    now: datetime) -> tuple[str, FieldErrors]:
    """The default routing: the named recipient must exist and be of an allowed type."""
    org = directory.get(body.get("recipient") or "")
    if org is None or org.type not in exchange.recipient_types:
        kinds = " or ".join(sorted(exchange.recipient_types))
        return "", [{"field": "recipient", "message": f"must be the id of a {kinds} organisation"}]
    return org.id, []


def steps_keeping(keep: dict[str, tuple[str, ...]]) -> Callable[[str, Body], Body]:
    """An exchange's `redact_step`: what of each step's body survives an erasure, by
    action (a field absent from the body stays absent; an action not named keeps
    nothing)."""

    def redact_step(action: str, body: Body) -> Body:
        return {k: body[k] for k in keep.get(action, ()) if k in body}

    return redact_step


def due_after(name: str, default: timedelta) -> Callable[[Body, datetime, Settings], datetime]:
    """A deadline `default` after submission, configurable as VIGIE_DEADLINE_<NAME>."""

    def due_at(content: Body, now: datetime, settings: Settings) -> datetime:
        return now + settings.deadline(name, default)

    return due_at


@dataclass(frozen=True)
class Exchange:
    name: str                            # URL and topic segment, e.g. "information-requests"
    sender_types: frozenset[str]
    recipient_types: frozenset[str]
    read_scope: str
    submit_scope: str
    initial_state: str
    transitions: tuple[Transition, ...]
    # States in which no deadline is pending any more.
    closed_states: frozenset[str]
    # Checks JSON Schema cannot express; returns every failing field.
    rules: Callable[[Body, datetime], FieldErrors] = _no_rules
    # Who receives the submission, or why nobody may. Every hook below that depends on the
    # day (a text in force, a status) is given the request's `now`, as the rules are.
    route: Callable[[Organisations, Exchange, Body, datetime],
                    tuple[str, FieldErrors]] = typed_recipient
    # Values the content takes when the sender leaves them out.
    defaults: dict[str, Any] = field(default_factory=dict)
    # When the next deadline falls (None: no deadline).
    due_at: Callable[[Body, datetime, Settings], datetime | None] = (
        lambda body, now, settings: None)
    # The state an item takes once it is in the recipient's feed (None: unchanged).
    delivered_state: str | None = None
    # How long delivery to the recipient's feed may take before it counts as late.
    delivery_target: timedelta | None = None
    # Organisation types that read every item of the exchange (oversight), never acting.
    overseer_types: frozenset[str] = frozenset()
    # What an overseer sees of an item's content without stating a purpose (the rest only
    # on an explicit request, audited with its purpose), and the fields naming the sender
    # it sees only when it asks for them too.
    overseen: Callable[[Body], Body] = lambda content: {}
    identity_fields: frozenset[str] = frozenset()
    # What the sender declares about itself (its court, its name), filled in from its
    # registry record or refused when it differs (see exchanges.authority).
    authority: Callable[[Entry, Body, datetime], tuple[Body, FieldErrors]] = (
        lambda sender, body, now: (body, []))
    # A reminder the texts require on every message of the exchange and on its resource
    # (e.g. the confidentiality of art. 11-2 II CPP), as `notice`.
    notice: str | None = None
    # Content the hub derives from who sends it (e.g. a priority flag, normalised URLs).
    enrich: Callable[[Sender, Body, Settings, datetime], Body] = (
        lambda sender, content, settings, now: content)
    # Lanes (e.g. DSA art. 22 priority) are measured apart; the first is the default.
    lanes: tuple[str, ...] = ("standard",)
    lane_of: Callable[[Body], str] = lambda content: "standard"
    # Keys under which an open item to the same recipient makes a new one a duplicate.
    lookup_keys: Callable[[Body], list[str]] = lambda content: []
    # How long a closed item keeps its personal data (VIGIE_DEADLINE_<EXCHANGE>_RETENTION).
    retention: timedelta | None = None
    # The states from which retention runs (default: the closed states).
    retention_states: frozenset[str] | None = None
    # What of the content survives an erasure (proof of the step, no personal data).
    redact: Callable[[Body], Body] = lambda content: {}
    redact_step: Callable[[str, Body], Body] = lambda action, body: {}
    # States kept for another time than `retention` (e.g. a signalement on which a case
    # was opened), each configurable as VIGIE_DEADLINE_<EXCHANGE>_RETENTION_<STATE>.
    retention_by_state: dict[str, timedelta] = field(default_factory=dict)
    # Pseudonymisation at intake: the content without the identities of the people it
    # names, and those identities, which the hub keeps apart, sealed, and shows only to
    # the recipient stating a purpose (None: nothing to keep apart).
    pseudonymise: Callable[[Body], tuple[Body, Body]] | None = None
    # What the statistics count the item under (codes, categories), from its content.
    facts: Callable[[Body], Facts] = lambda content: []

    def legal_basis(self, when: datetime) -> str:
        """The reference in force that day, from the dated table (services/legal)."""
        return REFERENCES.at(self.name, when).reference

    def transition(self, action: str) -> Transition:
        return next(t for t in self.transitions if t.action == action)

    @property
    def events(self) -> frozenset[str]:
        return frozenset({"submitted"}).union(*(t.events for t in self.transitions))

    @property
    def erasing_events(self) -> frozenset[str]:
        return frozenset(r.event for t in self.transitions for r in t.results if r.erases)

    def event_type(self, event: str) -> str:
        return f"fr.gouv.vigie.{self.name}.{event}"
