"""Declared authority: what a sender says about itself — its court, its magistrate's
office, its name as a notifier — is filled in from its record in the registry, or refused
when it says otherwise. A recipient can then act on those fields without checking them.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from datetime import datetime
from typing import Any

from ..organisations.directory import Entry
from ..problems import Problem
from .definition import Body, FieldErrors

# Who may sign as which magistrate: the parquet's magistrates for a prosecution office,
# the bench's for a court.
MAGISTRATE_ROLES: dict[str, frozenset[str]] = {
    # A parquet, or a parquet général (an appeal court's prosecution office).
    "prosecution": frozenset({"procureur_republique", "procureur_adjoint", "substitut",
                              "procureur_general", "avocat_general", "substitut_general"}),
    # Tribunal, chambre de l'instruction, cour d'assises or cour criminelle départementale.
    "court": frozenset({"juge_instruction", "juge_enfants", "president_juridiction",
                        "juge_siege", "juge_libertes_detention",
                        "president_chambre_instruction", "conseiller_chambre_instruction",
                        "president_cour_assises", "president_cour_criminelle"}),
}


def _same_name(a: str, b: str) -> bool:
    """Names compare as people read them: case, accents' encoding and spacing aside."""
    def norm(s: str) -> str:
        return " ".join(unicodedata.normalize("NFC", s).casefold().split())
    return norm(a) == norm(b)


def registered(body: Body, path: tuple[str, ...], value: str, what: str,
               errors: FieldErrors, same: Callable[[str, str], bool] = str.__eq__) -> Body:
    """`body` with `value` at `path` when the sender left it out; an error when the sender
    declared something else. Containers along the path are copied, never changed."""
    *parents, leaf = path
    top = dict(body)
    holder = top
    for name in parents:
        inner = holder.get(name)
        holder[name] = dict(inner) if isinstance(inner, dict) else {}
        holder = holder[name]
    declared = holder.get(leaf)
    if declared is None:
        holder[leaf] = value
    elif not same(declared, value):
        errors.append({"field": ".".join(path), "message": f"must be {value!r}, {what} "
                       "(or leave it out: the hub fills it in)"})
    return top


def court(sender: Entry, body: Body, at: str, errors: FieldErrors) -> Body:
    """The court a court or prosecution office declares at `body[at]` is its own
    jurisdiction: code and name from the registry."""
    if not sender.jurisdiction or not sender.jurisdiction_name:
        raise Problem(403, "Forbidden",
                      f"organisation {sender.id} has no jurisdiction in the registry; the "
                      "hub's operators must record it before it can declare a court")
    body = registered(body, (at, "court_code"), sender.jurisdiction,
                      "the jurisdiction your organisation is registered for", errors)
    return registered(body, (at, "court_name"), sender.jurisdiction_name,
                      "the name of your organisation's jurisdiction", errors, _same_name)


def court_at(at: str) -> Callable[[Entry, Body, datetime], tuple[Body, FieldErrors]]:
    """An exchange's `authority` when the court it names at `body[at]` is the sender's."""
    def declared(sender: Entry, body: Body, now: datetime) -> tuple[Body, FieldErrors]:
        errors: FieldErrors = []
        return court(sender, body, at, errors), errors
    return declared


def magistrate(sender: Entry, role: Any, field: str, errors: FieldErrors) -> None:
    """A prosecution office's magistrates are the parquet's; a court's, the bench's."""
    allowed = MAGISTRATE_ROLES.get(sender.type, frozenset())
    if isinstance(role, str) and role not in allowed:
        errors.append({"field": field, "message": f"a {sender.type} acts through "
                       f"{', '.join(sorted(allowed))}, not {role}"})


def notifier(sender: Entry, body: Body, now: datetime) -> tuple[Body, FieldErrors]:
    """A notice's notifier is the organisation that sends it (DSA art. 16(2)(c))."""
    errors: FieldErrors = []
    return registered(body, ("notifier", "name"), sender.name,
                      "your organisation's name in the registry", errors, _same_name), errors
