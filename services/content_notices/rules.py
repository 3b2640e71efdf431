"""The content-notice exchange: DSA art. 16 notices, the priority lane of art. 22, the
platform's art. 17 statement of reasons, and duplicate linking by normalised URL."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ..config import Settings
from ..exchanges import authority
from ..exchanges.dates import not_future, paris_today
from ..exchanges.definition import (
    Body,
    Exchange,
    FieldErrors,
    History,
    Result,
    Sender,
    Transition,
    due_after,
)
from ..exchanges.urls import normalise, url_problem
from ..organisations.directory import Entry

# The notice categories (the contract's enum): a trusted flagger's award names some.
CATEGORIES = frozenset({"psychological_subjection", "dangerous_health_practice",
                        "illegal_practice_of_medicine", "fraud", "incitement_to_self_harm",
                        "other"})
# EU member states and the other EEA states (ISO 3166-1 alpha-2), or the whole EU/EEA.
EEA = frozenset({
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE",
    "IT", "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
    "IS", "LI", "NO", "EU", "EEA",
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


# The Transparency Database's restriction fields (DSA art. 17(3)(a), 24(5)): each kind of
# restriction, its "other" value that must be described, and its end-date field.
RESTRICTIONS = {
    "decision_visibility": ("DECISION_VISIBILITY_OTHER", "end_date_visibility_restriction"),
    "decision_monetary": ("DECISION_MONETARY_OTHER", "end_date_monetary_restriction"),
    "decision_provision": (None, "end_date_service_restriction"),
    "decision_account": (None, "end_date_account_restriction"),
}
INCOMPATIBLE = "DECISION_GROUND_INCOMPATIBLE_CONTENT"
# The statement-of-reasons fields a no_action decision does not carry.
STATEMENT_FIELDS = frozenset({
    *RESTRICTIONS, *(end for _, end in RESTRICTIONS.values()), "decision_visibility_other",
    "decision_monetary_other", "account_type", "decision_ground",
    "decision_ground_reference_url", "illegal_content_legal_ground",
    "illegal_content_explanation", "incompatible_content_ground",
    "incompatible_content_explanation", "incompatible_content_illegal", "category",
    "category_addition", "category_specification", "category_specification_other",
    "content_type", "content_type_other", "content_language", "content_date",
    "application_date", "territorial_scope", "decision_facts", "puid"})
# Without them the Transparency Database refuses the statement.
STATEMENT_REQUIRED = ("decision_ground", "category", "content_type", "application_date",
                      "territorial_scope", "decision_facts", "puid")


def _need(errors: FieldErrors, body: Body, field: str, why: str) -> None:
    value = body.get(field)
    if value is None or (isinstance(value, str) and not value.strip()):
        errors.append({"field": field, "message": f"required {why}"})


def _refuse(errors: FieldErrors, body: Body, field: str, why: str) -> None:
    if field in body:
        errors.append({"field": field, "message": f"only {why}"})


def _only_when(errors: FieldErrors, body: Body, field: str, condition: bool, when: str) -> None:
    """`field` is required when `condition` holds, and refused otherwise."""
    (_need if condition else _refuse)(errors, body, field, when)


def applied(decision: Body, kind: str) -> list[str]:
    """The values a decision gives for one kind of restriction (a list, or one value)."""
    value = decision.get(kind)
    return value if isinstance(value, list) else [value] if value else []


def restrictions_applied(decision: Body) -> list[str]:
    """Every restriction a decision applies, in the Transparency Database's values."""
    return [value for kind in RESTRICTIONS for value in applied(decision, kind)]


def _check_grounds(errors: FieldErrors, body: Body) -> None:
    """Each ground with its explanation; content against the terms that is also held
    illegal carries both."""
    incompatible = body["decision_ground"] == INCOMPATIBLE
    illegal = not incompatible or body.get("incompatible_content_illegal") is True
    for name in ("illegal_content_legal_ground", "illegal_content_explanation"):
        _only_when(errors, body, name, illegal, "when the content is held illegal")
    for name in ("incompatible_content_ground", "incompatible_content_explanation",
                 "incompatible_content_illegal"):
        _only_when(errors, body, name, incompatible,
                   "when the ground is the terms and conditions")


def check_decision(body: dict[str, Any], now: datetime) -> FieldErrors:
    """A restriction carries a complete statement of reasons in the Transparency
    Database's fields and values; a no_action decision carries its reasons and none."""
    errors: FieldErrors = []
    if body["outcome"] == "no_action":
        _need(errors, body, "no_action_reasons", "for no_action")
        for name in sorted(STATEMENT_FIELDS & set(body)):
            errors.append({"field": name, "message": "only when content is restricted"})
        return errors
    _refuse(errors, body, "no_action_reasons", "for no_action")
    for name in STATEMENT_REQUIRED:
        _need(errors, body, name, "when content is restricted (DSA art. 17(3), 24(5))")
    if not restrictions_applied(body):
        errors.append({"field": "decision_visibility", "message": "name at least one restriction "
                       "(visibility, monetary, provision or account), or decide no_action"})
    for kind, (other, end) in RESTRICTIONS.items():
        chosen = applied(body, kind)
        if other:
            _only_when(errors, body, f"{kind}_other", other in chosen, f"when {kind} is {other}")
        if end in body and not chosen:
            errors.append({"field": end, "message": f"only with a {kind}"})
    if body.get("decision_ground"):
        _check_grounds(errors, body)
    _only_when(errors, body, "content_type_other",
               "CONTENT_TYPE_OTHER" in (body.get("content_type") or []),
               "when content_type is CONTENT_TYPE_OTHER")
    if body.get("category") in (body.get("category_addition") or []):
        errors.append({"field": "category_addition", "message": "must not repeat category"})
    for i, code in enumerate(body.get("territorial_scope") or []):
        if code not in EEA:
            errors.append({"field": f"territorial_scope[{i}]",
                           "message": "must be an EU/EEA country code (ISO 3166-1 alpha-2), "
                                      "EU or EEA"})
    not_future(errors, "application_date", body.get("application_date"), now)
    not_future(errors, "content_date", body.get("content_date"), now)
    if body.get("content_date") and body.get("application_date") and \
            body["content_date"] > body["application_date"]:
        errors.append({"field": "content_date", "message": "must not be after application_date"})
    for _, end in RESTRICTIONS.values():
        if body.get(end) and body.get("application_date") and \
                body[end] < body["application_date"]:
            errors.append({"field": end, "message": "must not be before application_date"})
    return errors


def with_source(body: Body, history: History) -> Body:
    """The statement's source is the notice, as the hub knows it: a trusted flagger's
    (art. 22) or an art. 16 notice — never what the platform says. A no_action decision
    has no statement."""
    if body.get("outcome") != "restricted":
        return body
    if history.content.get("trusted_flagger"):
        # A designated flagger is public; an art. 16 notifier is not named (the database
        # is public and holds no personal data).
        return {**body, "source_type": "SOURCE_TRUSTED_FLAGGER",
                "source_identity": (history.content.get("notifier") or {}).get("name")}
    return {**body, "source_type": "SOURCE_ARTICLE_16"}


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


DECIDED = frozenset({"decided", "contested", "complaint_decided"})
COMPLAINT_WINDOW = timedelta(days=183)  # six months after the decision (art. 20(1))
# No text fixes the delay ("timely", art. 20(4)): 14 days by default, to confirm.
complaint_due = due_after("content-notices.complaint", timedelta(days=14))


def check_publication(body: Body, history: History, now: datetime) -> FieldErrors:
    decision = history.last("decision") or {}
    if decision.get("outcome") != "restricted":
        return [{"field": "transparency_database_id",
                 "message": "only a restriction has a statement of reasons to publish"}]
    if history.last("publication"):
        return [{"field": "transparency_database_id", "message": "published already"}]
    return []


def check_complaint(body: Body, history: History, now: datetime) -> FieldErrors:
    decided = history.when("decision")
    if decided is not None and now > decided + COMPLAINT_WINDOW:
        return [{"field": "grounds", "message": "a complaint is lodged within six months of "
                 "the decision (DSA art. 20(1))"}]
    return []


def check_complaint_decision(body: Body, now: datetime) -> FieldErrors:
    if body.get("human_review") is not True:
        return [{"field": "human_review", "message": "must be true: a complaint is decided "
                 "under the supervision of qualified staff, not solely by automated means "
                 "(DSA art. 20(6))"}]
    return []


# What an erasure keeps of a step: its categories and dates, never free text — the
# oversight figures still count the decision and its action.
KEPT_ON_ERASURE = frozenset({"outcome", *RESTRICTIONS, "decision_ground", "category",
                             "content_type", "application_date", "territorial_scope",
                             "automated_detection", "automated_decision", "source_type",
                             "result"})


def redact_step(action: str, body: Body) -> Body:
    return {k: v for k, v in body.items() if k in KEPT_ON_ERASURE}


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
                   rules=check_decision, complete=with_source),
        # DSA art. 24(5): the statement's id in the Transparency Database, once submitted.
        Transition("publication", "recipient", "content-notices:decide", DECIDED,
                   (Result(None, "published"),), item_rules=check_publication),
        # DSA art. 20: the notifier contests the decision through the platform's internal
        # complaint-handling system, within six months; the platform answers.
        Transition("complaint", "sender", "content-notices:submit", frozenset({"decided"}),
                   (Result("contested", "contested", due=complaint_due),),
                   item_rules=check_complaint),
        Transition("complaint-decision", "recipient", "content-notices:decide",
                   frozenset({"contested"}),
                   (Result("complaint_decided", "complaint_decided"),),
                   rules=check_complaint_decision),
    ),
    closed_states=frozenset({"decided", "complaint_decided"}),
    rules=check_notice,
    authority=declared,
    overseer_types=frozenset({"regulator"}),
    # The regulator sees what a notice is about; the URLs and explanation on an explicit,
    # audited request; who notified (name, email) only if it says it needs it.
    overseen=lambda content: {k: content[k] for k in (
        "category", "priority", "trusted_flagger", "legal_provision", "duplicate_of")
        if k in content},
    identity_fields=frozenset({"notifier"}),
    enrich=enrich,
    lanes=("standard", "priority"),
    lane_of=lambda content: "priority" if content["priority"] else "standard",
    lookup_keys=lambda content: content["urls"],
    due_at=due_at,
    retention=timedelta(days=1095),  # three years after the decision; configurable
    redact=lambda content: {k: content[k] for k in ("category", "priority", "trusted_flagger")
                            if k in content},
    redact_step=redact_step,
)
