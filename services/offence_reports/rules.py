"""The art. 40 report exchange: routing to the competent parquet, the parquet's
acknowledgement, and the art. 40-2 feedback the reporter is owed, with its deadline."""

from __future__ import annotations

from datetime import datetime, timedelta

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
from ..organisations.directory import Organisations
from .courts import COURTS

DECISIONS = ("prosecution", "alternative_measure", "classement_sans_suite")
OPEN = frozenset({"delivered", "acknowledged"})


def check_report(body: Body, now: datetime) -> FieldErrors:
    errors: FieldErrors = []
    for i, offence in enumerate(body["offences"]):
        not_future(errors, f"offences[{i}].date", offence.get("date"), now)
    period_checked(errors, body.get("period"), now)
    return errors


def route_to_parquet(directory: Organisations, exchange: Exchange, body: Body,
                     now: datetime) -> tuple[str, FieldErrors]:
    """The prosecution acting for the jurisdiction where the facts took place (the courts
    table); a named recipient must be a prosecution office (e.g. a specialised pôle)."""
    named = body.get("recipient")
    if named:
        org = directory.get(named)
        if org is None or org.type != "prosecution":
            return "", [{"field": "recipient", "message": "must be the id of a prosecution "
                                                          "organisation"}]
        return org.id, []
    commune = body["place"]["commune_insee"]
    jurisdiction = COURTS.jurisdiction(commune)
    if jurisdiction is None:
        return "", [{"field": "place.commune_insee",
                     "message": f"the courts table names no jurisdiction for {commune}: "
                                "name the recipient"}]
    offices = directory.acting_for("prosecution", jurisdiction)
    if len(offices) != 1:
        message = (f"no prosecution office acting for {jurisdiction} is registered"
                   if not offices else f"several offices act for {jurisdiction}: name the "
                                       "recipient")
        return "", [{"field": "place.commune_insee", "message": message}]
    return offices[0], []


def check_decision(body: Body, now: datetime) -> FieldErrors:
    """Art. 40-2 CPP: a classement sans suite comes with the legal or opportunity reasons
    that justify it."""
    errors: FieldErrors = []
    not_future(errors, "decided_on", body["decided_on"], now)
    if body["decision"] == "classement_sans_suite" and not body.get("reasons"):
        errors.append({"field": "reasons", "message": "required for a classement sans suite "
                                                      "(art. 40-2 CPP)"})
    if body["decision"] == "alternative_measure" and not body.get("measure"):
        errors.append({"field": "measure", "message": "name the alternative measure"})
    return errors


def report_facts(content: Body) -> list[tuple[str, str]]:
    return [("natinf", o["natinf"]) for o in content["offences"] if o.get("natinf")]


def decision_facts(body: Body) -> list[tuple[str, str]]:
    facts = [("outcome", body["decision"])]
    if body.get("reasons"):
        facts.append(("reason", body["reasons"]["kind"]))
    return facts


def redact(content: Body) -> Body:
    """What proves the report once erased: the offences' codes and the place's commune."""
    return {"offences": [{"natinf": o.get("natinf")} for o in content["offences"]],
            "place": {"commune_insee": content["place"]["commune_insee"]}}


redact_step = steps_keeping({
    "acknowledgement": ("parquet_number",), "decision": ("decision", "decided_on"),
    "information-request-link": ("information_request",)
})


# No text fixes either delay: the acknowledgement within a week, the decision within six
# months of it; both configurable (VIGIE_DEADLINE_OFFENCE_REPORTS_...).
due_at = due_after("offence-reports.acknowledgement", timedelta(days=8))
decision_due = due_after("offence-reports.decision", timedelta(days=183))

EXCHANGE = Exchange(
    name="offence-reports",
    sender_types=frozenset({"state_service"}),
    recipient_types=frozenset({"prosecution"}),
    read_scope="offence-reports:read",
    submit_scope="offence-reports:submit",
    initial_state="submitted",
    delivered_state="delivered",
    transitions=(
        Transition("acknowledgement", "recipient", "offence-reports:decide",
                   frozenset({"delivered"}),
                   (Result("acknowledged", "acknowledged", due=decision_due),)),
        Transition("decision", "recipient", "offence-reports:decide", OPEN,
                   (Result("decided", "decided"),), rules=check_decision,
                   facts=decision_facts),
        # The parquet asks Miviludes (art. 157-3) about the case the report opened.
        Transition("information-request-link", "recipient", "offence-reports:decide",
                   OPEN | {"decided"}, (Result(None, "linked"),),
                   links=(("information_request", "information-requests"),)),
        Transition("withdrawal", "sender", "offence-reports:submit", OPEN,
                   (Result("withdrawn", "withdrawn"),)),
    ),
    closed_states=frozenset({"decided", "withdrawn"}),
    rules=check_report,
    route=route_to_parquet,
    due_at=due_at,
    delivery_target=timedelta(minutes=1),
    facts=report_facts,
    redact=redact,
    redact_step=redact_step,
    # The report is part of the proceedings; the hub keeps its copy five years after the
    # decision (configurable), then only what proves it.
    retention=timedelta(days=1825),
)
