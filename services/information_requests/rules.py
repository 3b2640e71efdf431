"""The information-request exchange: who may send to whom, its lifecycle, and the
checks the OpenAPI schema cannot express."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from ..config import Settings
from ..exchanges import authority
from ..exchanges.dates import PARIS, not_past
from ..exchanges.definition import Body, Exchange, FieldErrors, Result, Transition
from ..organisations.directory import Entry

CASE_NUMBERS = ("parquet_number", "instruction_number", "pv_number")
OPEN = frozenset({"submitted", "acknowledged"})


def check_request(body: dict[str, Any], now: datetime) -> FieldErrors:
    errors: FieldErrors = []
    refs = body.get("case_references") or {}
    if not any(refs.get(k) for k in CASE_NUMBERS):
        errors.append({"field": "case_references",
                       "message": "give at least one of parquet_number, instruction_number, "
                                  "pv_number"})
    not_past(errors, "due_date", body["due_date"], now)
    subject = body.get("subject") or {}
    if not (subject.get("movement") or subject.get("practices")):
        errors.append({"field": "subject", "message": "name a movement or at least one practice"})
    return errors


def requesting_authority(sender: Entry, body: Body) -> tuple[Body, FieldErrors]:
    """The requesting court is the sender's jurisdiction; its magistrate one of its own."""
    errors: FieldErrors = []
    body = authority.court(sender, body, "requesting_authority", errors)
    authority.magistrate(sender, body["requesting_authority"].get("magistrate_role"),
                         "requesting_authority.magistrate_role", errors)
    return body, errors


def check_acknowledgement(body: dict[str, Any], now: datetime) -> FieldErrors:
    errors: FieldErrors = []
    not_past(errors, "expected_answer_date", body.get("expected_answer_date"), now)
    return errors


def due_at(body: dict[str, Any], now: datetime, settings: Settings) -> datetime:
    """End of the due date, Paris time."""
    day = date.fromisoformat(body["due_date"]) + timedelta(days=1)
    return datetime.combine(day, time(0, 0), tzinfo=PARIS)


EXCHANGE = Exchange(
    name="information-requests",
    legal_basis="art. 157-3 CPP",
    sender_types=frozenset({"court", "prosecution"}),
    recipient_types=frozenset({"state_service"}),
    read_scope="information-requests:read",
    submit_scope="information-requests:submit",
    initial_state="submitted",
    transitions=(
        Transition("acknowledgement", "recipient", "information-requests:respond",
                   frozenset({"submitted"}), (Result("acknowledged", "acknowledged"),),
                   rules=check_acknowledgement),
        Transition("answer", "recipient", "information-requests:respond",
                   OPEN, (Result("answered", "answered"),)),
        Transition("declination", "recipient", "information-requests:respond",
                   OPEN, (Result("declined", "declined"),)),
        Transition("withdrawal", "sender", "information-requests:submit",
                   OPEN, (Result("withdrawn", "withdrawn"),)),
    ),
    closed_states=frozenset({"answered", "declined", "withdrawn"}),
    rules=check_request,
    authority=requesting_authority,
    due_at=due_at,
    retention=timedelta(days=1825),  # five years after the answer; configurable
)
