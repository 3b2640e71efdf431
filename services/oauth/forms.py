"""The token request's form, refused as RFC 6749 §5.2 says rather than as a problem:
an OAuth client library reads `error` (`unsupported_grant_type`, `invalid_request`),
and the contract's 400 for the token endpoint is that error."""

from __future__ import annotations

import json

from connexion.exceptions import ProblemException
from connexion.lifecycle import ConnexionRequest, ConnexionResponse
from connexion.validators import FormDataValidator
from jsonschema import Draft4Validator

from ..http import FORMATS, field_errors
from ..metrics import AUTH_FAILURES


class TokenRequestRefused(Exception):
    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


class TokenFormValidator(FormDataValidator):
    """connexion's check of the form against the contract (TokenRequest), its refusals
    worded as the token endpoint's."""

    async def wrap_receive(self, receive, *, scope):
        """An empty form too (connexion refuses it here, before parsing)."""
        try:
            return await super().wrap_receive(receive, scope=scope)
        except ProblemException as exc:
            raise TokenRequestRefused("invalid_request", _said(exc)) from None

    def _validate(self, body):
        """Every field the contract refuses, named without its value (a secret is a
        field); parameters it does not name are ignored, as RFC 6749 §3.2 requires."""
        if not isinstance(body, dict):
            raise TokenRequestRefused("invalid_request", "the body must be a form")
        grant = body.get("grant_type")
        if grant is not None and grant != "client_credentials":
            raise TokenRequestRefused("unsupported_grant_type",
                                      "only client_credentials is granted")
        errors = field_errors(Draft4Validator(self._schema, format_checker=FORMATS), body)
        if errors:
            raise TokenRequestRefused("invalid_request", "; ".join(
                f"{e['field']}: {e['message']}" for e in errors)[:500])


def _said(exc: ProblemException) -> str:
    return str(exc.detail or exc.title)[:200]


def token_request_refused(request: ConnexionRequest,
                          exc: TokenRequestRefused) -> ConnexionResponse:
    AUTH_FAILURES.labels(exc.error).inc()
    return ConnexionResponse(
        status_code=400, mimetype="application/json",
        body=json.dumps({"error": exc.error, "error_description": exc.description}),
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"})
