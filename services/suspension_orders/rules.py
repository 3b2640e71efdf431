"""The suspension-order exchange (art. 131-35-1 CP): the decision served on the
platform, which blocks the accounts within the execution target (and the person's other
accounts, and prevents new ones) or says why not; the suspension ends at its term or when
the court lifts it (art. 702-1 CPP), and the platform records the unblocking."""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta
from typing import Any

from ..config import Settings
from ..exchanges import authority
from ..exchanges.dates import PARIS, end_of_day, not_future, not_future_instant
from ..exchanges.definition import (
    Body,
    Exchange,
    FieldErrors,
    History,
    Result,
    Sender,
    Transition,
)
from ..exchanges.urls import url_problem
from ..legal.references import REFERENCES

MAX_MONTHS, MAX_MONTHS_RECIDIVISM = 6, 12  # as pronounced; twelve in legal recidivism
# A decision is executed once final, or before with provisional execution.
ENFORCEABLE = frozenset({"final", "provisional_execution"})
# What the platform owes beyond the named accounts, on every message of the exchange.
OBLIGATIONS = ("Pendant la durée de la suspension (art. 131-35-1 du code pénal), le "
               "fournisseur bloque les comptes désignés et les autres comptes qu'il sait "
               "détenus par la personne condamnée, et l'empêche d'en créer de nouveaux ; "
               "il rend compte de l'exécution à l'autorité qui l'a requise.")
IMPOSSIBLE = Result("impossible", "impossible")


def add_months(day: date, months: int) -> date:
    """The same day `months` later (the month's last day when it has no such day)."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def complete_execution(body: Body, history: History) -> Body:
    """The last day of the suspension, counted from the day of blocking (Paris) for the
    duration pronounced, from one day to the day before the same date N months later."""
    if body.get("result") != "executed" or "blocked_at" not in body:
        return body
    blocked = datetime.fromisoformat(body["blocked_at"]).astimezone(PARIS).date()
    last = add_months(blocked, history.content["duration_months"]) - timedelta(days=1)
    return {**body, "ends_on": last.isoformat()}


def execution_delay_after(day: str, settings: Settings) -> datetime:
    """The end of `day` (Paris) plus the execution delay (24 h by default,
    VIGIE_DEADLINE_SUSPENSION_ORDERS_EXECUTION): when the platform must have acted."""
    return end_of_day(date.fromisoformat(day)) + settings.deadline(
        "suspension-orders.execution", timedelta(hours=24))


def unblocking_due(body: Body, now: datetime, settings: Settings) -> datetime:
    """The platform unblocks within the execution delay after the term's last day."""
    return execution_delay_after(body["ends_on"], settings)


def lifting_due(body: Body, now: datetime, settings: Settings) -> datetime:
    """After a lifting, the platform unblocks within the execution delay of its effect."""
    return execution_delay_after(body["effective_on"], settings)


EXECUTED = Result("executed", "executed", due=unblocking_due)


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
        else:
            not_future_instant(errors, "blocked_at", body["blocked_at"], now)
        if body.get("reasons"):
            errors.append({"field": "reasons", "message": "only when execution is impossible"})
        for name in ("other_accounts", "new_accounts"):
            if name not in body:
                errors.append({"field": name, "message": "required once executed: what the "
                               "platform did (art. 131-35-1 CP)"})
    else:
        if not (body.get("reasons") or "").strip():
            errors.append({"field": "reasons", "message": "say why the accounts cannot be "
                                                          "blocked"})
        if "blocked_at" in body:
            errors.append({"field": "blocked_at", "message": "only once executed"})
    return errors


def check_lifting(body: dict[str, Any], now: datetime) -> FieldErrors:
    errors: FieldErrors = []
    not_future(errors, "decision.date", body["decision"]["date"], now)
    if body["effective_on"] < body["decision"]["date"]:
        errors.append({"field": "effective_on", "message": "must not be before the decision"})
    return errors


def check_unblocking(body: Body, history: History, now: datetime) -> FieldErrors:
    """Not in the future, not before the blocking, and before the term only once lifted."""
    errors: FieldErrors = []
    at = datetime.fromisoformat(body["unblocked_at"])
    not_future_instant(errors, "unblocked_at", body["unblocked_at"], now)
    executed = history.last("execution")
    if executed and at < datetime.fromisoformat(executed["blocked_at"]):
        errors.append({"field": "unblocked_at", "message": "must not be before the blocking"})
    elif executed and history.state == "executed" and \
            at.astimezone(PARIS).date() <= date.fromisoformat(executed["ends_on"]):
        errors.append({"field": "unblocked_at",
                       "message": f"the suspension runs until {executed['ends_on']} "
                                  "included; earlier only once the court lifts it"})
    return errors


def cited(sender: Sender, content: Body, settings: Settings, now: datetime) -> Body:
    """The order cites the provision in force unless it names its own."""
    return {"legal_basis": REFERENCES.at("suspension-orders", now).reference, **content}


def due_at(content: Body, now: datetime, settings: Settings) -> datetime:
    """The execution deadline runs from signification (`served_on`), not from submission."""
    return execution_delay_after(content["served_on"], settings)


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
                   decide=lambda body, now: (EXECUTED if body["result"] == "executed"
                                             else IMPOSSIBLE),
                   rules=check_execution, complete=complete_execution),
        # Relèvement (art. 702-1 CPP): the court lifts the penalty before its term.
        Transition("lifting", "sender", "suspension-orders:submit",
                   frozenset({"served", "delivered", "executed"}),
                   (Result("lifted", "lifted", due=lifting_due),), rules=check_lifting),
        Transition("unblocking", "recipient", "suspension-orders:execute",
                   frozenset({"executed", "lifted"}), (Result("ended", "ended"),),
                   item_rules=check_unblocking),
    ),
    # Executed is not the end: the unblocking at the term (or once lifted) is due.
    closed_states=frozenset({"impossible", "ended"}),
    notice=OBLIGATIONS,
    rules=check_order,
    authority=authority.court_at("decision"),
    defaults={"legal_recidivism": False},
    enrich=cited,
    due_at=due_at,
    retention=timedelta(days=730),  # two years after execution; configurable
)
