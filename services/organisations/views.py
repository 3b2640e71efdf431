"""A client's own credentials: it adds a second secret, deploys it, revokes the first —
rotation without downtime, without asking the operators; or it registers public keys and
signs its token requests (private_key_jwt), rotated the same way. Audited like every
call."""

from __future__ import annotations

import json

from connexion import context

from ..http import json_body
from ..hub import current_hub
from ..problems import Problem, invalid, not_found
from . import service
from .models import Client, ClientKey, ClientSecret


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
    return _revoked("secret", service.revoke_secret, id)


def _revoked(what: str, revoke, credential_id: str):
    """A credential of the caller's client revoked (404 for none of its own; 409 for its
    last one)."""
    with current_hub().db.transaction() as session:
        try:
            revoke(session, _own(session), credential_id)
        except LookupError:
            raise not_found(what) from None
        except service.OrganisationError as refused:
            raise Problem(409, "Conflict", str(refused)) from None
    return None, 204


def _key(key: ClientKey) -> dict:
    return {"id": key.id, "created_at": key.created_at.isoformat(),
            "jwk": json.loads(key.jwk)}


def list_keys():
    with current_hub().db.sessions() as session:
        return json_body({"items": [_key(k) for k in _own(session).keys],
                          "max": service.MAX_KEYS})


def add_key(body: dict):
    """Register a public key; assertions signed with its private half are accepted at
    once. The answer names it by its RFC 7638 thumbprint, the `kid` to sign with."""
    with current_hub().db.transaction() as session:
        try:
            added = service.add_key(session, _own(session), body["jwk"])
        except service.KeyRefused as refused:
            raise invalid(refused.errors) from None
        except service.OrganisationError as refused:
            raise Problem(409, "Conflict", str(refused)) from None
        resource = _key(added)
    return json_body(resource, 201, {"Location": f"/v1/clients/self/keys/{added.id}"})


def revoke_key(id: str):  # noqa: A002
    return _revoked("key", service.revoke_key, id)
