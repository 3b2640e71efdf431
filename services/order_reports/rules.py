"""The order-report exchange: Miviludes reports a professional's practices to the order
governing the profession; the order asks and is answered, then says what it did."""

from __future__ import annotations

from datetime import datetime, timedelta

from ..exchanges.dates import not_future, period_checked, today_at_latest
from ..exchanges.definition import (
    Body,
    Exchange,
    FieldErrors,
    Result,
    Transition,
    due_after,
    steps_keeping,
)
from ..order_notifications.rules import route_by_profession, rpps_is_valid

# Where the order may still ask, complain or decide.
OPEN = frozenset({"delivered", "acknowledged", "awaiting_answer", "complaint_filed"})
# Art. L. 4124-6 CSP: the disciplinary chamber's penalties; or no complaint, or a
# complaint dismissed.
OUTCOMES = ("no_complaint", "complaint_dismissed", "warning", "reprimand",
            "temporary_ban", "struck_off")


def check_report(body: Body, now: datetime) -> FieldErrors:
    errors: FieldErrors = []
    rpps = body["professional"].get("rpps")
    if rpps and not rpps_is_valid(rpps):
        errors.append({"field": "professional.rpps",
                       "message": "fails the RPPS check digit (Luhn)"})
    period_checked(errors, body.get("period"), now)
    return errors


def check_decision(body: Body, now: datetime) -> FieldErrors:
    errors: FieldErrors = []
    not_future(errors, "decided_on", body["decided_on"], now)
    if body["outcome"] == "temporary_ban" and not body.get("ban_months"):
        errors.append({"field": "ban_months", "message": "required for a temporary ban"})
    if body["outcome"] != "temporary_ban" and body.get("ban_months"):
        errors.append({"field": "ban_months", "message": "only for a temporary ban"})
    return errors


def report_facts(content: Body) -> list[tuple[str, str]]:
    return [("profession", content["professional"]["profession"])]


def redact(content: Body) -> Body:
    return {"profession": content["professional"]["profession"]}


redact_step = steps_keeping({
    "acknowledgement": ("reference",), "complaint": ("filed_on",),
    "decision": ("outcome", "decided_on", "final")
})


due_at = due_after("order-reports.acknowledgement", timedelta(days=15))
# The order's outcome within a year (a disciplinary procedure takes months), an answer to
# its question within a month; configurable.
outcome_due = due_after("order-reports.outcome", timedelta(days=365))
answer_due = due_after("order-reports.answer", timedelta(days=30))
decision_due = due_after("order-reports.decision", timedelta(days=730))

EXCHANGE = Exchange(
    name="order-reports",
    sender_types=frozenset({"state_service"}),
    recipient_types=frozenset({"health_order"}),
    read_scope="order-reports:read",
    submit_scope="order-reports:submit",
    initial_state="submitted",
    delivered_state="delivered",
    transitions=(
        Transition("acknowledgement", "recipient", "order-reports:respond",
                   frozenset({"delivered"}),
                   (Result("acknowledged", "acknowledged", due=outcome_due),)),
        Transition("question", "recipient", "order-reports:respond",
                   frozenset({"delivered", "acknowledged", "complaint_filed"}),
                   (Result("awaiting_answer", "question_asked", due=answer_due),)),
        Transition("answer", "sender", "order-reports:submit", frozenset({"awaiting_answer"}),
                   (Result("acknowledged", "answered", due=outcome_due),)),
        Transition("complaint", "recipient", "order-reports:respond",
                   frozenset({"delivered", "acknowledged"}),
                   (Result("complaint_filed", "complaint_filed", due=decision_due),),
                   rules=today_at_latest("filed_on")),
        Transition("decision", "recipient", "order-reports:respond", OPEN,
                   (Result("decided", "decided"),), rules=check_decision,
                   facts=lambda body: [("outcome", body["outcome"])]),
    ),
    closed_states=frozenset({"decided"}),
    rules=check_report,
    route=route_by_profession,
    due_at=due_at,
    delivery_target=timedelta(minutes=1),
    facts=report_facts,
    redact=redact,
    redact_step=redact_step,
    retention=timedelta(days=1825),  # five years after the order's decision; configurable
)
