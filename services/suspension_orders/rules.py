"""The suspension-order exchange (art. 131-35-1 CP): the decision served on the
platform, which blocks the accounts within the execution target or says why not."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from ..config import Settings
from ..exchanges import authority
from ..exchanges.dates import end_of_day, not_future
from ..exchanges.definition import (
    Body,
    Exchange,
    FieldErrors,
    Result,
    Sender,
    Transition,
)
from ..exchanges.urls import url_problem
from ..legal.references import REFERENCES

MAX_MONTHS, MAX_MONTHS_RECIDIVISM = 6, 12  # as pronounced; twelve in legal recidivism
# A decision is executed once final, or before with provisional execution.
ENFORCEABLE = frozenset({"final", "provisional_execution"})
EXECUTED = Result("executed", "executed")
IMPOSSIBLE = Result("impossible", "impossible")


def check_order(body: dict[str, Any], now: datetime) -> FieldErrors:
    errors: FieldErrors = []
    limit = MAX_MONTHS_RECIDIVISM if body.get("legal_recidivism") else MAX_MONTHS
    if body["duration_months"] > limit:
        errors.append({"field": "duration_months",
                       "message": f"at most {MAX_MONTHS} months, {MAX_MONTHS_RECIDIVISM} in "
                                  "legal recidivism (art. 131-35-1 CP)"})
    if body["decision"]["finality"] not in ENFORCEABLE:
        errors.append({"field": "decision.finality",
                       "message": "not enforceable: a decision open to or under appeal is "
                                  "executed only with provisional execution"})
    not_future(errors, "decision.date", body["decision"]["date"], now)
    not_future(errors, "served_on", body["served_on"], now)
    for i, account in enumerate(body["accounts"]):
        problem = url_problem(account["url"]) if "url" in account else None
        if problem:
            errors.append({"field": f"accounts[{i}].url", "message": problem})
    return errors


def check_execution(body: dict[str, Any], now: datetime) -> FieldErrors:
    errors: FieldErrors = []
    if body["result"] == "executed":
        if "blocked_at" not in body:
            errors.append({"field": "blocked_at", "message": "required once executed"})
        elif datetime.fromisoformat(body["blocked_at"]) > now + timedelta(minutes=5):
            errors.append({"field": "blocked_at", "message": "must not be in the future"})
        if body.get("reasons"):
            errors.append({"field": "reasons", "message": "only when execution is impossible"})
    else:
        if not (body.get("reasons") or "").strip():
            errors.append({"field": "reasons", "message": "say why the accounts cannot be "
                                                          "blocked"})
        if "blocked_at" in body:
            errors.append({"field": "blocked_at", "message": "only once executed"})
    return errors


def cited(sender: Sender, content: Body, settings: Settings, now: datetime) -> Body:
    """The order cites the provision in force unless it names its own."""
    return {"legal_basis": REFERENCES.at("suspension-orders", now).reference, **content}


def due_at(content: Body, now: datetime, settings: Settings) -> datetime:
    """The execution deadline runs from signification (`served_on`), not from submission:
    the end of the day it was served (Paris) plus the execution delay (24 h by default,
    VIGIE_DEADLINE_SUSPENSION_ORDERS_EXECUTION)."""
    return end_of_day(date.fromisoformat(content["served_on"])) + settings.deadline(
        "suspension-orders.execution", timedelta(hours=24))


EXCHANGE = Exchange(
    name="suspension-orders",
    sender_types=frozenset({"court", "prosecution"}),
    recipient_types=frozenset({"platform"}),
    read_scope="suspension-orders:read",
    submit_scope="suspension-orders:submit",
    initial_state="served",
    delivered_state="delivered",
    transitions=(
        Transition("execution", "recipient", "suspension-orders:execute",
                   frozenset({"delivered"}), (EXECUTED, IMPOSSIBLE),
                   decide=lambda body: EXECUTED if body["result"] == "executed" else IMPOSSIBLE,
                   rules=check_execution),
    ),
    closed_states=frozenset({"executed", "impossible"}),
    rules=check_order,
    authority=authority.court_at("decision"),
    defaults={"legal_recidivism": False},
    enrich=cited,
    due_at=due_at,
    retention=timedelta(days=730),  # two years after execution; configurable
)
