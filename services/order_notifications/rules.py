"""The order-notification exchange: routing by profession, lifecycle, retraction, and
the checks the OpenAPI schema cannot express."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ..exchanges import authority
from ..exchanges.dates import not_future, today_at_latest
from ..exchanges.definition import (
    Exchange,
    FieldErrors,
    History,
    Result,
    Transition,
    due_after,
    steps_keeping,
)
from ..legal.references import REFERENCES
from ..organisations.directory import Organisations

PROFESSIONS = ("MEDECINS", "CHIRURGIENS_DENTISTES", "SAGES_FEMMES", "PHARMACIENS",
               "INFIRMIERS", "MASSEURS_KINESITHERAPEUTES", "PEDICURES_PODOLOGUES")
# An acquittal, relaxe or non-lieu obliges the order to remove the information — once the
# decision is final: one under appeal is recorded, and the erasure waits for the final one.
def erasing(now: datetime) -> frozenset[str]:
    """The outcomes the text in force that day makes erase once final (dated data:
    services/legal/references.yaml, `erasing_outcomes`)."""
    return frozenset(REFERENCES.at("order-notifications", now).erasing_outcomes or ())

# Outcomes that say nothing final about the case: the final outcome remains due.
INTERIM = frozenset({"conviction_not_final", "measure_lifted", "measure_changed"})
FINAL_BY_NAME = {"conviction_final": True, "conviction_not_final": False}
# Where the case still stands open; the sender may send an outcome or withdraw.
PENDING = frozenset({"submitted", "delivered", "acknowledged", "awaiting_final_decision"})
# States in which the item still holds the person's data (retention runs from them).
HOLDS_DATA = PENDING | {"outcome_notified"}
# Erased by a final acquittal (retracted) or by the sender's withdrawal of an erroneous
# notification: the order must confirm that it deleted its copies.
ERASED = frozenset({"retracted", "withdrawn"})
# Art. 11-2 II CPP: what the order receives is confidential. Carried on every message.
CONFIDENTIALITY = ("Information transmise en application des articles 11-2 et 11-3 du code "
                   "de procédure pénale : elle ne peut être communiquée qu'aux personnes "
                   "chargées de la procédure disciplinaire et ne peut servir qu'à celle-ci ; "
                   "toute autre divulgation est punie (art. 11-2 II et 226-13 du code pénal).")


def rpps_is_valid(rpps: str) -> bool:
    """RPPS numbers carry a Luhn check digit."""
    total = 0
    for position, char in enumerate(reversed(rpps)):
        digit = int(char)
        if position % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def check_notification(body: dict[str, Any], now: datetime) -> FieldErrors:
    errors: FieldErrors = []
    professional = body["professional"]
    if professional.get("rpps") and not rpps_is_valid(professional["rpps"]):
        errors.append({"field": "professional.rpps",
                       "message": "fails the RPPS check digit (Luhn)"})
    not_future(errors, "professional.birth_date", professional["birth_date"], now)
    measure = body["measure"]
    if measure["type"] == "conviction":
        for name in ("finality", "operative_part"):
            if not measure.get(name):
                errors.append({"field": f"measure.{name}",
                               "message": "required for a conviction"})
        if "obligations" in measure:
            errors.append({"field": "measure.obligations",
                           "message": "only for a judicial control"})
    else:
        if not measure.get("obligations"):
            errors.append({"field": "measure.obligations",
                           "message": "a judicial control names obligation 138 12° and/or "
                                      "12° bis"})
        if "finality" in measure:
            errors.append({"field": "measure.finality", "message": "only for a conviction"})
    not_future(errors, "measure.decision_date", measure["decision_date"], now)
    for i, offence in enumerate(body["offences"]):
        not_future(errors, f"offences[{i}].date", offence.get("date"), now)
    if not any(body["case_references"].get(k) for k in ("parquet_number", "instruction_number")):
        errors.append({"field": "case_references",
                       "message": "give parquet_number or instruction_number"})
    not_future(errors, "person_informed_on", body.get("person_informed_on"), now)
    return errors


def check_outcome(body: dict[str, Any], now: datetime) -> FieldErrors:
    errors: FieldErrors = []
    not_future(errors, "decision_date", body["decision_date"], now)
    named = FINAL_BY_NAME.get(body["outcome"])
    if named is not None and body.get("final", named) != named:
        errors.append({"field": "final", "message": f"{body['outcome']} says it already"})
    if body["outcome"] in erasing(now) and "final" not in body:
        errors.append({"field": "final", "message": "say whether the decision is final: the "
                       "order erases the information only once it is (an appeal may follow)"})
    if body["outcome"] in INTERIM and body.get("final"):
        errors.append({"field": "final", "message": f"{body['outcome']} does not end the case"})
    return errors


def route_by_profession(directory: Organisations, exchange: Exchange, body: dict[str, Any],
                        now: datetime) -> tuple[str, FieldErrors]:
    """The order that governs the professional's profession; a named recipient must be it."""
    profession = body["professional"]["profession"]
    governing = directory.governing(profession)
    named = body.get("recipient")
    if named:
        if named in governing:
            return named, []
        org = directory.get(named)
        message = (f"{named} does not govern {profession}" if org and org.type == "health_order"
                   else "must be the id of the health_order organisation governing "
                        f"{profession}")
        return "", [{"field": "recipient", "message": message}]
    if len(governing) != 1:
        message = (f"no order governing {profession} is registered" if not governing
                   else f"several orders govern {profession}: name the recipient")
        return "", [{"field": "professional.profession", "message": message}]
    return governing[0], []


due_at = due_after("order-notifications.acknowledgement", timedelta(days=5))
# Once acknowledged, the outcome of the case is due (configurable: trials take time).
outcome_due = due_after("order-notifications.outcome", timedelta(days=365))
# Once erased, the order's confirmation that it deleted its copies is due. No text fixes
# the delay (art. 11-2 IV CPP says the information is removed): 30 days, to confirm.
deletion_due = due_after("order-notifications.deletion", timedelta(days=30))


def is_final(body: dict[str, Any]) -> bool:
    if body["outcome"] in INTERIM:
        return False
    return bool(body.get("final", FINAL_BY_NAME.get(body["outcome"], True)))


def decide_outcome(body: dict[str, Any], now: datetime) -> Result:
    if not is_final(body):
        return AWAITING_FINAL
    return RETRACTED if body["outcome"] in erasing(now) else OUTCOME_NOTIFIED


def redact(content: dict[str, Any]) -> dict[str, Any]:
    """What proves the notification once retracted: no data about the person."""
    return {"legal_regime": content.get("legal_regime"),
            "profession": content["professional"]["profession"],
            "measure": {"type": content["measure"]["type"]},
            "court": content.get("court")}


redact_step = steps_keeping({
    "acknowledgement": ("reference",), "outcome": ("outcome", "decision_date", "final"),
    # The reason category proves why; the explanation may name the person.
    "withdrawal": ("reason",), "person-information": ("informed_on", "means"),
    "deletion": ("deleted_on",), "copy-request": (), "copy": ()
})


def copy_requested(body: dict[str, Any], history: History, now: datetime) -> FieldErrors:
    """A copy answers the order's request: one must be pending."""
    asked, sent = history.when("copy-request"), history.when("copy")
    if asked is None or (sent is not None and sent >= asked):
        return [{"field": "(item)", "message": "the order has not asked for a copy (or it "
                                               "was sent already)"}]
    return []


OUTCOME_NOTIFIED = Result("outcome_notified", "outcome_notified")
AWAITING_FINAL = Result("awaiting_final_decision", "outcome_notified", due=outcome_due)
RETRACTED = Result("retracted", "retracted", erases=True, due=deletion_due)
WITHDRAWN = Result("withdrawn", "withdrawn", erases=True, due=deletion_due)

EXCHANGE = Exchange(
    name="order-notifications",
    sender_types=frozenset({"prosecution"}),
    recipient_types=frozenset({"health_order"}),
    read_scope="order-notifications:read",
    submit_scope="order-notifications:submit",
    initial_state="submitted",
    delivered_state="delivered",
    transitions=(
        Transition("acknowledgement", "recipient", "order-notifications:acknowledge",
                   frozenset({"delivered"}),
                   (Result("acknowledged", "acknowledged", due=outcome_due),)),
        Transition("outcome", "sender", "order-notifications:submit",
                   PENDING | {"outcome_notified"},
                   (OUTCOME_NOTIFIED, AWAITING_FINAL, RETRACTED), decide=decide_outcome,
                   rules=check_outcome),
        # Informing the person is a later step of the prosecution, not a precondition.
        Transition("person-information", "sender", "order-notifications:submit",
                   HOLDS_DATA, (Result(None, "person_informed"),),
                   rules=today_at_latest("informed_on")),
        # An erroneous notification (wrong person, wrong order, wrong facts) is withdrawn
        # and erased like a retraction; a corrected one is a new notification.
        Transition("withdrawal", "sender", "order-notifications:submit", HOLDS_DATA,
                   (WITHDRAWN,)),
        # Art. D1-13 CPP: the order may ask for a copy of the decision; the prosecution
        # answers with it as a document, whose digest the step's evidence binds.
        Transition("copy-request", "recipient", "order-notifications:acknowledge",
                   HOLDS_DATA, (Result(None, "copy_requested"),)),
        Transition("copy", "sender", "order-notifications:submit", HOLDS_DATA,
                   (Result(None, "copy_sent"),), item_rules=copy_requested),
        Transition("deletion", "recipient", "order-notifications:acknowledge", ERASED,
                   (Result("deletion_confirmed", "deletion_confirmed"),),
                   rules=today_at_latest("deleted_on")),
    ),
    # Acknowledged is not the end: the outcome of the case remains due until it is sent;
    # an erased notification waits for the order's confirmation that it deleted its copies.
    closed_states=frozenset({"outcome_notified", "deletion_confirmed"}),
    notice=CONFIDENTIALITY,
    rules=check_notification,
    authority=authority.court_at("court"),
    route=route_by_profession,
    defaults={"legal_regime": "CPP_11_3"},
    due_at=due_at,
    delivery_target=timedelta(minutes=1),
    redact=redact,
    redact_step=redact_step,
    # Five years after the last step, configurable, whatever the last state: a notification
    # whose outcome never came is not kept for ever.
    retention=timedelta(days=1825),
    retention_states=HOLDS_DATA,
)
