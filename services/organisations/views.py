"""A client's own credentials: it adds a second secret, deploys it, revokes the first —
rotation without downtime, without asking the operators. Audited like every call."""

from __future__ import annotations

from connexion import context

from ..http import json_body
from ..hub import current_hub
from ..problems import Problem, not_found
from . import service
from .models import Client, ClientSecret


def _own(session) -> Client:
    client = session.get(Client, context.context["token_info"]["client_id"])
    if client is None or not client.enabled:
        raise not_found("client")
    return client


def _secret(secret: ClientSecret) -> dict:
    return {"id": secret.id, "created_at": secret.created_at.isoformat()}


def list_secrets():
    with current_hub().db.sessions() as session:
        return json_body({"items": [_secret(s) for s in _own(session).secrets],
                          "max": service.MAX_SECRETS})


def add_secret():
    """The new secret is in this answer only (no idempotent replay keeps it either)."""
    with current_hub().db.transaction() as session:
        try:
            added, secret = service.add_secret(session, _own(session))
        except service.OrganisationError as refused:
            raise Problem(409, "Conflict", str(refused)) from None
        resource = {**_secret(added), "secret": secret}
    return json_body(resource, 201, {"Location": f"/v1/clients/self/secrets/{added.id}"})


def revoke_secret(id: str):  # noqa: A002
    with current_hub().db.transaction() as session:
        try:
            service.revoke_secret(session, _own(session), id)
        except LookupError:
            raise not_found("secret") from None
        except service.OrganisationError as refused:
            raise Problem(409, "Conflict", str(refused)) from None
    return None, 204
