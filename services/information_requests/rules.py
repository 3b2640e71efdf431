"""The information-request exchange: who may send to whom, its lifecycle, and the
checks the OpenAPI schema cannot express."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from ..config import Settings
from ..exchanges import authority
from ..exchanges.dates import end_of_day, not_future, not_past
from ..exchanges.definition import Body, Exchange, FieldErrors, Result, Transition
from ..legal.references import REFERENCES
from ..organisations.directory import Entry, Organisations

OPEN = frozenset({"submitted", "acknowledged"})
# What the service is shown before it answers, and confirms it read (art. 157-3 CPP: the
# answer informs the court; it is not an expert opinion and the defence will read it).
NOTICE = ("La réponse éclaire la juridiction sur le mouvement ou les pratiques en cause ; "
          "elle ne constitue pas une appréciation des faits poursuivis. Elle est versée au "
          "dossier de la procédure et soumise au débat contradictoire : les parties et la "
          "défense en prennent connaissance.")


def check_request(body: dict[str, Any], now: datetime) -> FieldErrors:
    errors: FieldErrors = []
    refs = body.get("case_references") or {}
    # Art. 157-3 serves a prosecution already under way: a police report alone is not one.
    started = ((refs.get("parquet_number") and refs.get("prosecution_stage"))
               or refs.get("instruction_number") or refs.get("trial_reference"))
    if not started and refs.get("parquet_number"):
        errors.append({"field": "case_references.prosecution_stage",
                       "message": "required with a parquet_number alone: how the "
                                  "prosecution was brought (art. 157-3 CPP needs one under "
                                  "way)"})
    elif not started:
        errors.append({"field": "case_references",
                       "message": "give a parquet_number with its prosecution_stage, an "
                                  "instruction_number or a trial_reference: a police report "
                                  "number alone does not show a prosecution under way"})
    not_past(errors, "due_date", body["due_date"], now)
    subject = body.get("subject") or {}
    if not (subject.get("movement") or subject.get("practices")):
        errors.append({"field": "subject", "message": "name a movement or at least one practice"})
    return errors


def requesting_authority(sender: Entry, body: Body,
                         now: datetime) -> tuple[Body, FieldErrors]:
    """The requesting court is the sender's jurisdiction; its magistrate one of its own."""
    errors: FieldErrors = []
    body = authority.court(sender, body, "requesting_authority", errors)
    authority.magistrate(sender, body["requesting_authority"].get("magistrate_role"),
                         "requesting_authority.magistrate_role", errors)
    return body, errors


def designated_service(directory: Organisations, exchange: Exchange, body: Body,
                       now: datetime) -> tuple[str, FieldErrors]:
    """Only the services the arrêté in force designates (the dated table) receive
    requests."""
    designated = REFERENCES.at(exchange.name, now).recipients or ()
    org = directory.get(body.get("recipient") or "")
    if org is None or org.id not in designated or org.type not in exchange.recipient_types:
        return "", [{"field": "recipient", "message": "must be one of the services designated "
                     f"for art. 157-3 CPP: {', '.join(designated)}"}]
    return org.id, []


def check_answer(body: dict[str, Any], now: datetime) -> FieldErrors:
    errors: FieldErrors = []
    not_future(errors, "signed_on", body.get("signed_on"), now)
    if body.get("notice_acknowledged") is not True:
        errors.append({"field": "notice_acknowledged",
                       "message": "must be true: the service read that its answer gives no "
                                  "appraisal of the facts and goes to the adversarial debate"})
    return errors


def check_acknowledgement(body: dict[str, Any], now: datetime) -> FieldErrors:
    errors: FieldErrors = []
    not_past(errors, "expected_answer_date", body.get("expected_answer_date"), now)
    return errors


def due_at(body: dict[str, Any], now: datetime, settings: Settings) -> datetime:
    """End of the due date, Paris time."""
    return end_of_day(date.fromisoformat(body["due_date"]))


EXCHANGE = Exchange(
    name="information-requests",
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
                   OPEN, (Result("answered", "answered"),), rules=check_answer),
        Transition("declination", "recipient", "information-requests:respond",
                   OPEN, (Result("declined", "declined"),)),
        Transition("withdrawal", "sender", "information-requests:submit",
                   OPEN, (Result("withdrawn", "withdrawn"),)),
    ),
    closed_states=frozenset({"answered", "declined", "withdrawn"}),
    rules=check_request,
    route=designated_service,
    authority=requesting_authority,
    notice=NOTICE,
    due_at=due_at,
    retention=timedelta(days=1825),  # five years after the answer; configurable
)
