"""Forms generated from the contract: each operation's request body schema becomes the
fields of its form, what a person types becomes the JSON body the API would get, and the
API's field errors come back, in French, beside the fields they name."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from werkzeug.datastructures import MultiDict

from ..french import field_message

# Field names as people read them; anything not listed is the name made readable.
LABELS = {
    "recipient": "Destinataire", "requesting_authority": "Autorité requérante",
    "court_code": "Code de la juridiction", "court_name": "Juridiction",
    "magistrate_role": "Fonction du magistrat", "magistrate_name": "Nom du magistrat",
    "case_references": "Références de la procédure", "parquet_number": "Numéro de parquet",
    "prosecution_stage": "Stade des poursuites", "instruction_number": "Numéro d'instruction",
    "trial_reference": "Référence devant la juridiction de jugement",
    "pv_number": "Numéro de procès-verbal", "prosecuted_offence": "Infraction poursuivie",
    "subject": "Objet", "questions": "Questions", "due_date": "Date de réponse attendue",
    "answer": "Réponse", "text": "Texte", "reason": "Motif", "reasons": "Motifs",
    "documents": "Pièces jointes", "id": "Identifiant", "title": "Titre",
    "professional": "Professionnel", "rpps": "Numéro RPPS", "name": "Nom",
    "first_names": "Prénoms", "birth_date": "Date de naissance", "profession": "Profession",
    "measure": "Mesure", "offences": "Infractions", "outcome": "Issue",
    "urls": "Adresses (URL)", "explanation": "Explication", "legal_provision":
    "Disposition légale", "notifier": "Auteur de la notification", "email": "Courriel",
    "good_faith": "Déclaration de bonne foi", "category": "Catégorie",
    "decision": "Décision", "accounts": "Comptes", "duration_months": "Durée (mois)",
    "date": "Date", "place": "Lieu", "description": "Description", "kind": "Nature",
    "movement": "Mouvement", "persons": "Personnes", "practices": "Pratiques",
    "qualification": "Qualification", "natinf": "Code NATINF", "finality": "Caractère définitif",
    "operative_part": "Dispositif", "obligations": "Obligations", "note": "Observation",
    "received_at": "Reçu le", "reference": "Référence", "blocked_at": "Bloqué le",
}
def french(message: str) -> str:
    """An API field message in French (services/french.py, the API's own catalogue)."""
    return field_message(message)


def label(name: str) -> str:
    return LABELS.get(name) or name.replace("_", " ").capitalize()


@dataclass
class Field:
    name: str                      # dotted path in the body: a.b, a.0.b for list items
    label: str
    kind: str                      # text, textarea, date, datetime, integer, number,
    #                                boolean, select, choices, lines, group
    required: bool = False
    choices: list[str] = field(default_factory=list)
    help: str = ""
    children: list[Field] = field(default_factory=list)
    limit: int | None = None

    @property
    def html_id(self) -> str:
        return "f-" + re.sub(r"[^A-Za-z0-9_-]", "-", self.name)


def _merged(schema: dict) -> dict:
    """A property's schema with its allOf parts folded in (the contract's refs are)."""
    if "allOf" not in schema:
        return schema
    out: dict = {}
    for part in schema["allOf"]:
        out.update(_merged(part))
    out.update({k: v for k, v in schema.items() if k != "allOf"})
    return out


def fields_of(schema: dict | None, prefix: str = "", required: bool = True,
              hidden: frozenset[str] = frozenset()) -> list[Field]:
    """The form's fields for a body schema (`hidden`: top-level fields the console fills
    in itself, such as the documents)."""
    if not schema:
        return []
    schema = _merged(schema)
    needed = set(schema.get("required", []))
    out = []
    for name, prop in (schema.get("properties") or {}).items():
        if not prefix and name in hidden:
            continue
        out.append(_field(f"{prefix}{name}", name, _merged(prop),
                          required and name in needed))
    return out


def _field(path: str, name: str, prop: dict, required: bool) -> Field:
    help_text = " ".join(str(prop.get("description", "")).split())[:300]
    kind = prop.get("type")
    if "enum" in prop:
        return Field(path, label(name), "select", required, [str(v) for v in prop["enum"]],
                     help_text)
    if kind == "object":
        return Field(path, label(name), "group", required, help=help_text,
                     children=fields_of(prop, f"{path}.", required))
    if kind == "array":
        items = _merged(prop.get("items") or {})
        if items.get("type") == "object":
            # One entry in the form; a second by sending the form again is not offered.
            return Field(path, label(name), "group", required, help=help_text,
                         children=fields_of(items, f"{path}.0.", required))
        if "enum" in items:
            return Field(path, label(name), "choices", required,
                         [str(v) for v in items["enum"]], help_text)
        return Field(path, label(name), "lines", required, help=help_text or
                     "une valeur par ligne")
    if kind == "boolean":
        return Field(path, label(name), "boolean", required, help=help_text)
    if kind in ("integer", "number"):
        return Field(path, label(name), kind, required, help=help_text)
    fmt = prop.get("format")
    if fmt in ("date", "date-time"):
        return Field(path, label(name), "date" if fmt == "date" else "datetime", required,
                     help=help_text)
    limit = prop.get("maxLength")
    return Field(path, label(name), "textarea" if (limit or 0) > 300 else "text", required,
                 help=help_text, limit=limit)


def body_from(form: MultiDict, fields: list[Field]) -> dict[str, Any]:
    """The JSON body a form stands for: empty fields are left out (the contract says what
    is required), numbers and booleans typed, one value per line for lists."""
    body: dict[str, Any] = {}
    for f in _leaves(fields):
        raw = form.get(f.name, "")
        if f.kind == "boolean":
            if f.name in form:
                _put(body, f.name, form.get(f.name) == "true")
            continue
        if f.kind == "choices":
            if form.getlist(f.name):
                _put(body, f.name, form.getlist(f.name))
            continue
        raw = raw.strip()
        if not raw:
            continue
        value: Any = raw
        if f.kind == "lines":
            value = [line.strip() for line in raw.splitlines() if line.strip()]
        elif f.kind in ("integer", "number"):
            try:
                value = int(raw) if f.kind == "integer" else float(raw)
            except ValueError:
                value = raw  # the contract refuses it, by its name
        _put(body, f.name, value)
    return body


def _leaves(fields: list[Field]):
    for f in fields:
        if f.kind == "group":
            yield from _leaves(f.children)
        else:
            yield f


def _put(body: dict, path: str, value: Any) -> None:
    parts = path.split(".")
    node: Any = body
    for i, part in enumerate(parts[:-1]):
        nxt = parts[i + 1]
        key: Any = int(part) if isinstance(node, list) else part
        if isinstance(node, list):
            while len(node) <= key:
                node.append({} if not nxt.isdigit() else [])
            node = node[key]
        else:
            node = node.setdefault(key, [] if nxt.isdigit() else {})
    last = parts[-1]
    if isinstance(node, list):
        while len(node) <= int(last):
            node.append(None)
        node[int(last)] = value
    else:
        node[last] = value


def values_of(body: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """A body (a draft) as the form's values, to fill the form again."""
    out: dict[str, str] = {}
    items = body.items() if isinstance(body, dict) else enumerate(body)
    for key, value in items:
        path = f"{prefix}{key}"
        if isinstance(value, dict) or (isinstance(value, list) and value
                                       and isinstance(value[0], dict)):
            out.update(values_of(value, f"{path}."))
        elif isinstance(value, list):
            out[path] = "\n".join(map(str, value))
        elif isinstance(value, bool):
            out[path] = "true" if value else "false"
        else:
            out[path] = str(value)
    return out


def errors_by_field(problem: dict[str, Any]) -> dict[str, list[str]]:
    """The problem's field errors keyed by form field name (a[0].b → a.0.b), in French."""
    out: dict[str, list[str]] = {}
    for error in problem.get("errors") or []:
        name = re.sub(r"\[(\d+)\]", r".\1", str(error.get("field", "")))
        out.setdefault(name, []).append(french(str(error.get("message", ""))))
    return out
