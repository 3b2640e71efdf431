"""The content-notice exchange: DSA art. 16 notices, the priority lane of art. 22, the
platform's art. 17 statement of reasons, and duplicate linking by normalised URL."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ..config import Settings
from ..exchanges import authority
from ..exchanges.dates import not_past, paris_today
from ..exchanges.definition import Body, Exchange, FieldErrors, Result, Sender, Transition
from ..exchanges.urls import normalise, url_problem
from ..organisations.directory import Entry

# The notice categories (the contract's enum): a trusted flagger's award names some.
CATEGORIES = frozenset({"psychological_subjection", "dangerous_health_practice",
                        "illegal_practice_of_medicine", "fraud", "incitement_to_self_harm",
                        "other"})
# EU member states and the other EEA states (ISO 3166-1 alpha-2), or the whole EEA.
EEA = frozenset({
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE",
    "IT", "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
    "IS", "LI", "NO", "EEA",
})


def check_notice(body: dict[str, Any], now: datetime) -> FieldErrors:
    errors: FieldErrors = []
    for i, url in enumerate(body["urls"]):
        problem = url_problem(url)
        if problem:
            errors.append({"field": f"urls[{i}]", "message": problem})
    if not body["explanation"].strip():
        errors.append({"field": "explanation", "message": "must substantiate why the content "
                                                          "is illegal (DSA art. 16(2)(a))"})
    if body["good_faith_statement"] is not True:
        errors.append({"field": "good_faith_statement",
                       "message": "must be true: the notifier confirms in good faith that the "
                                  "notice is accurate and complete (DSA art. 16(2)(d))"})
    return errors


def check_decision(body: dict[str, Any], now: datetime) -> FieldErrors:
    errors: FieldErrors = []
    restrictions = body.get("restrictions") or []
    if body["outcome"] == "restricted":
        if not restrictions:
            errors.append({"field": "restrictions",
                           "message": "name at least one restriction, or decide no_action"})
        for name in ("ground", "facts"):
            if not body.get(name):
                errors.append({"field": name, "message": "required when content is restricted"})
        if body.get("no_action_reasons"):
            errors.append({"field": "no_action_reasons", "message": "only for no_action"})
    else:
        if restrictions:
            errors.append({"field": "restrictions", "message": "no_action applies none"})
        if not (body.get("no_action_reasons") or "").strip():
            errors.append({"field": "no_action_reasons", "message": "required for no_action"})
    for i, restriction in enumerate(restrictions):
        for j, code in enumerate(restriction["territorial_scope"]):
            if code not in EEA:
                errors.append({"field": f"restrictions[{i}].territorial_scope[{j}]",
                               "message": "must be an EU/EEA country code (ISO 3166-1 alpha-2) "
                                          "or EEA"})
        not_past(errors, f"restrictions[{i}].end_date", restriction.get("end_date"), now)
    return errors


def declared(sender: Entry, body: Body, now: datetime) -> tuple[Body, FieldErrors]:
    """The notifier is the sending organisation; priority (DSA art. 22) comes from its
    status in the registry on the day — awarded, and the notice within its areas — never
    from what it claims. The regulator and Miviludes send standard notices."""
    body, errors = authority.notifier(sender, body, now)
    status = sender.flagger_status(paris_today(now))
    trusted = status is not None and status[0] == "awarded"
    priority = trusted and body.get("category") in status[1]
    return {**body, "priority": priority, "trusted_flagger": trusted}, errors


def enrich(sender: Sender, content: dict[str, Any], settings: Settings,
           now: datetime) -> dict[str, Any]:
    urls = list(dict.fromkeys(normalise(u) for u in content["urls"]))
    return {**content, "urls": urls}


def due_at(content: dict[str, Any], now: datetime, settings: Settings) -> datetime:
    if content["priority"]:
        return now + settings.deadline("content-notices.priority-decision", timedelta(hours=24))
    return now + settings.deadline("content-notices.decision", timedelta(days=7))


EXCHANGE = Exchange(
    name="content-notices",
    sender_types=frozenset({"state_service", "regulator", "trusted_flagger"}),
    recipient_types=frozenset({"platform"}),
    read_scope="content-notices:read",
    submit_scope="content-notices:submit",
    initial_state="submitted",
    delivered_state="delivered",
    transitions=(
        # DSA art. 16(4): the platform confirms receipt; the decision may come either way.
        Transition("acknowledgement", "recipient", "content-notices:decide",
                   frozenset({"delivered"}), (Result("acknowledged", "acknowledged"),)),
        Transition("decision", "recipient", "content-notices:decide",
                   frozenset({"delivered", "acknowledged"}), (Result("decided", "decided"),),
                   rules=check_decision),
    ),
    closed_states=frozenset({"decided"}),
    rules=check_notice,
    authority=declared,
    overseer_types=frozenset({"regulator"}),
    enrich=enrich,
    lanes=("standard", "priority"),
    lane_of=lambda content: "priority" if content["priority"] else "standard",
    lookup_keys=lambda content: content["urls"],
    due_at=due_at,
    retention=timedelta(days=1095),  # three years after the decision; configurable
)
