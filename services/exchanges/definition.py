"""What makes an exchange: who sends to whom, its lifecycle, and its rules.

A new exchange is one `Exchange` value (plus its OpenAPI section and tests); the
storage, messaging, authorisation and delivery code is shared by all of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

FieldErrors = list[dict[str, str]]


@dataclass(frozen=True)
class Transition:
    action: str                          # sub-resource name, e.g. "answer"
    event: str                           # event name, e.g. "answered"
    actor: Literal["sender", "recipient"]
    scope: str
    from_states: frozenset[str]
    to_state: str


@dataclass(frozen=True)
class Exchange:
    name: str                            # URL and topic segment, e.g. "information-requests"
    legal_basis: str
    sender_types: frozenset[str]
    recipient_types: frozenset[str]
    read_scope: str
    submit_scope: str
    initial_state: str
    transitions: tuple[Transition, ...]
    closed_states: frozenset[str]
    # Checks JSON Schema cannot express; returns every failing field.
    rules: Callable[[dict[str, Any], datetime], FieldErrors] = lambda body, now: []
    # When the item is due (None: no deadline).
    due_at: Callable[[dict[str, Any], datetime], datetime | None] = lambda body, now: None
    # The step rules, by action.
    step_rules: dict[str, Callable[[dict[str, Any], datetime], FieldErrors]] = field(
        default_factory=dict)

    def transition(self, action: str) -> Transition:
        return next(t for t in self.transitions if t.action == action)

    @property
    def topic_name(self) -> str:
        return self.name

    def event_type(self, event: str) -> str:
        return f"fr.gouv.vigie.{self.name}.{event}"
