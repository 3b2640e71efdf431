"""Problems in French for the callers that ask for it (`Accept-Language: fr`): the
title, the detail and each field's message, from one catalogue the console uses too.
English stays the default; a detail the catalogue does not know is left in English (its
field names and values are the contract's, in any language).

The middleware rewrites only problem responses (application/problem+json) of requests
that prefer French: nothing else is touched, nothing is buffered otherwise."""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Titles by status, and the hub's own titles that say more than the status.
TITLES = {
    400: "Requête incorrecte", 401: "Non authentifié", 403: "Interdit", 404: "Introuvable",
    405: "Méthode non autorisée", 406: "Format non disponible", 409: "Conflit",
    410: "Supprimé", 411: "Longueur requise", 413: "Corps trop volumineux",
    415: "Type de contenu non pris en charge", 422: "Requête invalide",
    429: "Trop de requêtes", 500: "Erreur interne", 503: "Service indisponible",
}
NAMED_TITLES = {
    "Invalid request": "Requête invalide", "Invalid parameters": "Paramètres invalides",
    "Malformed body": "Corps mal formé", "Payload too large": "Corps trop volumineux",
    "Idempotency-Key required": "Idempotency-Key requise",
    "Invalid Idempotency-Key": "Idempotency-Key invalide",
    "Idempotency-Key reused": "Idempotency-Key déjà utilisée",
    "Document refused": "Document refusé", "Length required": "Longueur requise",
}
# What the hub's details name.
NOUNS = {
    "item": "dossier", "information request": "demande d'information",
    "order notification": "information d'un ordre", "content notice": "notification de contenu",
    "suspension order": "ordonnance de suspension", "signalement": "signalement",
    "offence report": "signalement au parquet", "order report": "signalement à un ordre",
    "webhook": "point de réception (webhook)", "dead letter": "lettre morte",
    "document": "document", "secret": "secret", "client": "client",
}


def _noun(match: re.Match) -> str:
    return NOUNS.get(match[1], match[1])


DETAILS: list[tuple[re.Pattern, Any]] = [
    (re.compile(r"^(\d+) invalid field\(s\)$"), "{0} champ(s) invalide(s)"),
    (re.compile(r"^(\d+) invalid parameter\(s\)$"), "{0} paramètre(s) invalide(s)"),
    (re.compile(r"^no such (.+)$"), lambda m: f"{_noun(m)} introuvable"),
    (re.compile(r"^bodies are limited to (\d+) bytes$"),
     "le corps d'une requête est limité à {0} octets"),
    (re.compile(r"^too many requests from this address$"),
     "trop de requêtes depuis cette adresse"),
    (re.compile(r"^the hub is at capacity; retry with the same Idempotency-Key$"),
     "le hub est à pleine capacité ; réessayez avec la même Idempotency-Key"),
    (re.compile(r"^a JSON body is required$"), "un corps JSON est requis"),
    (re.compile(r"^the body is not valid UTF-8$"), "le corps n'est pas de l'UTF-8 valide"),
    (re.compile(r"^the body is not valid JSON: (.*)$"),
     "le corps n'est pas du JSON valide : {0}"),
    (re.compile(r"^send the body with a Content-Length header$"),
     "envoyez le corps avec un en-tête Content-Length"),
    (re.compile(r"^the path contains control characters$"),
     "le chemin contient des caractères de contrôle"),
    (re.compile(r"^every creating POST takes an Idempotency-Key header$"),
     "toute création (POST) porte un en-tête Idempotency-Key"),
    (re.compile(r"^the item changed meanwhile; retry$"),
     "le dossier a changé entre-temps ; réessayez"),
    (re.compile(r"^only the (sender|recipient) may record this step$"),
     lambda m: "seul " + ("l'expéditeur" if m[1] == "sender" else "le destinataire")
     + " peut enregistrer cette étape"),
    (re.compile(r"^the delivery is (\w+), not dead$"),
     "la livraison est {0}, pas en lettre morte"),
]
FIELD_MESSAGES: list[tuple[re.Pattern, str]] = [
    (re.compile(r"^required$"), "champ obligatoire"),
    (re.compile(r"^unknown field$"), "champ inconnu"),
    (re.compile(r"^unknown parameter$"), "paramètre inconnu"),
    (re.compile(r"^must be of type (\w+)$"), "doit être de type {0}"),
    (re.compile(r"^must be at most (\d+) characters$"), "{0} caractères au plus"),
    (re.compile(r"^must be at least (\d+) characters$"), "{0} caractères au moins"),
    (re.compile(r"^must not be empty$"), "ne doit pas être vide"),
    (re.compile(r"^must have at most (\d+) items$"), "{0} éléments au plus"),
    (re.compile(r"^must have at least (\d+) items$"), "{0} éléments au moins"),
    (re.compile(r"^must be one of (.+)$"), "doit être l'une des valeurs : {0}"),
    (re.compile(r"^does not have the expected format$"), "n'a pas le format attendu"),
    (re.compile(r"^must be a valid date-time$"),
     "doit être une date et heure RFC 3339 (AAAA-MM-JJTHH:MM:SS+HH:MM)"),
    (re.compile(r"^must be a valid date.*$"), "doit être une date valide (AAAA-MM-JJ)"),
    (re.compile(r"^must be a valid email$"), "doit être une adresse électronique valide"),
    (re.compile(r"^must be at most (\S+)$"), "doit valoir au plus {0}"),
    (re.compile(r"^must be at least (\S+)$"), "doit valoir au moins {0}"),
    (re.compile(r"^has non-unique elements$"), "contient des doublons"),
    (re.compile(r"^must be after since$"), "doit être postérieure à since"),
]


def _translated(text: str, catalogue: list[tuple[re.Pattern, Any]]) -> str:
    for pattern, french in catalogue:
        match = pattern.match(text)
        if match:
            return french(match) if callable(french) else french.format(*match.groups())
    return text


def field_message(message: str) -> str:
    """An API field message in French (the message itself when no rule knows it)."""
    return _translated(message, FIELD_MESSAGES)


def problem(body: dict[str, Any]) -> dict[str, Any]:
    """The problem in French: title, detail, each field's message; the rest as it was."""
    out = dict(body)
    title = out.get("title")
    if isinstance(title, str):
        out["title"] = NAMED_TITLES.get(title) or TITLES.get(out.get("status"), title)
    if isinstance(out.get("detail"), str):
        out["detail"] = _translated(out["detail"], DETAILS)
    if isinstance(out.get("errors"), list):
        out["errors"] = [{**e, "message": field_message(e["message"])}
                         if isinstance(e, dict) and isinstance(e.get("message"), str) else e
                         for e in out["errors"]]
    return out


def prefers_french(accept_language: str) -> bool:
    """Whether the best-rated language of an Accept-Language header is French."""
    best, best_q = "", 0.0
    for part in accept_language.split(",")[:20]:
        tag, _, params = part.strip().partition(";")
        q = 1.0
        match = re.search(r"q=([^;\s]*)", params)
        if match:
            try:
                q = float(match[1])
            except ValueError:
                q = 0.0  # a weight that is not one: not wanted
        if q > best_q:
            best, best_q = tag.strip().lower(), q
    return best == "fr" or best.startswith("fr-")


class FrenchProblems:
    """ASGI middleware: a problem answered to a request preferring French, in French
    (`Content-Language: fr`, `Vary: Accept-Language`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        wanted = b""
        for name, value in scope.get("headers") or ():
            if name == b"accept-language":
                wanted = value
                break
        if not wanted or not prefers_french(wanted.decode("latin-1")):
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def send_(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = dict(message.get("headers") or [])
                if headers.get(b"content-type", b"").startswith(b"application/problem+json"):
                    start = message
                    return
                await send(message)
            elif start is not None and message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if message.get("more_body"):
                    return
                await self._send_french(start, b"".join(chunks), send)
            else:
                await send(message)

        await self.app(scope, receive, send_)

    @staticmethod
    async def _send_french(start: Message, body: bytes, send: Send) -> None:
        try:
            translated = json.dumps(problem(json.loads(body)), ensure_ascii=False).encode()
        except (ValueError, TypeError):
            translated = body
        kept = [(k, v) for k, v in start.get("headers") or []
                if k not in (b"content-length", b"content-language")]
        vary = [v for k, v in kept if k == b"vary"]
        headers = [(k, v) for k, v in kept if k != b"vary"]
        headers += [(b"content-length", str(len(translated)).encode()),
                    (b"content-language", b"fr"),
                    (b"vary", b", ".join([*vary, b"Accept-Language"]))]
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": translated})
