"""The signalement exchange: pseudonymisation at intake, qualification, onward routing,
and a short retention unless Miviludes opens a case."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from ..content_notices.rules import EXCHANGE as CONTENT_NOTICES
from ..exchanges.dates import not_future, period_checked
from ..exchanges.definition import (
    Body,
    Exchange,
    FieldErrors,
    Result,
    Transition,
    due_after,
    steps_keeping,
)
from ..legal.references import REFERENCES
from ..offence_reports.rules import EXCHANGE as OFFENCE_REPORTS
from ..order_reports.rules import EXCHANGE as ORDER_REPORTS
from ..organisations.directory import Organisations

# Where Miviludes may still qualify or route it.
UNQUALIFIED = frozenset({"delivered", "acknowledged"})
ROUTABLE = UNQUALIFIED | {"information", "case_opened", "routed"}
CLOSED = frozenset({"no_follow_up", "information", "case_opened", "routed", "withdrawn"})
# What identifies a person: kept apart, sealed, shown only to Miviludes with a purpose.
IDENTIFYING = ("last_name", "first_names", "birth_date", "contact", "rpps")
# The outcome category the sender is told, whatever followed.
ROUTED = {"qualification": "onward_routing"}


def check_signalement(body: Body, now: datetime) -> FieldErrors:
    errors: FieldErrors = []
    not_future(errors, "received_on", body["received_on"], now)
    period_checked(errors, body.get("period"), now)
    for i, person in enumerate(body.get("people") or ()):
        not_future(errors, f"people[{i}].birth_date", person.get("birth_date"), now)
    return errors


def to_miviludes(directory: Organisations, exchange: Exchange, body: Body,
                 now: datetime) -> tuple[str, FieldErrors]:
    """The service the texts in force designate (the dated table); a named recipient must
    be it."""
    designated = REFERENCES.at(exchange.name, now).recipients or ()
    named = body.get("recipient") or (designated[0] if len(designated) == 1 else "")
    org = directory.get(named)
    if org is None or org.id not in designated:
        return "", [{"field": "recipient", "message": "must be one of the services that "
                     f"receive signalements: {', '.join(designated)}"}]
    return org.id, []


def pseudonymise(content: Body) -> tuple[Body, Body]:
    """Each person becomes a pseudonym (P1, P2…) with their role, whether a minor, and a
    health professional's profession; their identities go apart."""
    people, identities = [], {}
    received = date.fromisoformat(content["received_on"])
    for n, person in enumerate(content.get("people") or (), start=1):
        ref = f"P{n}"
        identities[ref] = {k: person[k] for k in IDENTIFYING if k in person}
        kept = {"ref": ref, "role": person["role"]}
        if person.get("profession"):
            kept["profession"] = person["profession"]
        if person.get("birth_date"):
            born = date.fromisoformat(person["birth_date"])
            kept["minor"] = (received.year - born.year
                             - ((received.month, received.day) < (born.month, born.day))) < 18
        people.append(kept)
    return {**content, "people": people}, identities


def intake_facts(content: Body) -> list[tuple[str, str]]:
    return [("category", c) for c in content["categories"]]


def redact(content: Body) -> Body:
    """What proves the signalement once erased: its categories, nothing about anyone."""
    return {"categories": content.get("categories", [])}


redact_step = steps_keeping({
    "qualification": ("category",), "withdrawal": ("reason",),
    "referral-to-prosecution": ("exchange", "item"),
    "referral-to-order": ("exchange", "item"),
    "referral-to-platform": ("exchange", "item")
})


def qualified(body: Body, now: datetime) -> Result:
    return NO_FOLLOW_UP if body["category"] == "no_follow_up" else INFORMATION


def referral(action: str, onward: Exchange) -> Transition:
    """A step that sends the signalement onward as a submission of `onward`, made by
    Miviludes; the sender is told it was routed onward, nothing more."""
    return Transition(action, "recipient", "signalements:qualify", ROUTABLE,
                      (Result("routed", "routed"),), onward=onward,
                      told=lambda body: ROUTED,
                      facts=lambda body: [("routed_to", onward.name)])


due_at = due_after("signalements.acknowledgement", timedelta(days=15))
qualification_due = due_after("signalements.qualification", timedelta(days=60))
NO_FOLLOW_UP = Result("no_follow_up", "qualified")
INFORMATION = Result("information", "qualified")

EXCHANGE = Exchange(
    name="signalements",
    sender_types=frozenset({"association", "state_service"}),
    recipient_types=frozenset({"state_service"}),
    read_scope="signalements:read",
    submit_scope="signalements:submit",
    initial_state="submitted",
    delivered_state="delivered",
    transitions=(
        Transition("acknowledgement", "recipient", "signalements:qualify",
                   frozenset({"delivered"}),
                   (Result("acknowledged", "acknowledged", due=qualification_due),)),
        Transition("qualification", "recipient", "signalements:qualify", UNQUALIFIED,
                   (NO_FOLLOW_UP, INFORMATION), decide=qualified,
                   told=lambda body: {"qualification": body["category"]},
                   facts=lambda body: [("qualification", body["category"])]),
        Transition("case-opening", "recipient", "signalements:qualify",
                   UNQUALIFIED | {"information"}, (Result("case_opened", "case_opened"),),
                   told=lambda body: {"qualification": "case_opened"},
                   facts=lambda body: [("qualification", "case_opened")]),
        referral("referral-to-prosecution", OFFENCE_REPORTS),
        referral("referral-to-order", ORDER_REPORTS),
        referral("referral-to-platform", CONTENT_NOTICES),
        # A signalement sent by mistake (wrong people, wrong service) is withdrawn and
        # erased at once.
        Transition("withdrawal", "sender", "signalements:submit", UNQUALIFIED,
                   (Result("withdrawn", "withdrawn", erases=True),)),
    ),
    closed_states=CLOSED,
    rules=check_signalement,
    route=to_miviludes,
    due_at=due_at,
    delivery_target=timedelta(minutes=1),
    pseudonymise=pseudonymise,
    facts=intake_facts,
    redact=redact,
    redact_step=redact_step,
    # Data of the most sensitive kinds (GDPR art. 9 and 10): six months after the last
    # step, unless Miviludes opened a case or sent it onward (five years); configurable as
    # VIGIE_DEADLINE_SIGNALEMENTS_RETENTION[_CASE_OPENED|_ROUTED].
    retention=timedelta(days=183),
    retention_states=CLOSED | UNQUALIFIED,
    retention_by_state={"case_opened": timedelta(days=1825), "routed": timedelta(days=1825)},
)
