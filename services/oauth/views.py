"""Token endpoint, RFC 8414 metadata and the JWKS."""

from __future__ import annotations

import json

from flask import current_app, make_response

from ..hub import current_hub
from ..metrics import AUTH_FAILURES, TOKENS_ISSUED
from ..organisations.scopes import ALL_SCOPES
from .tokens import TOKEN_ENDPOINT_REASONS, decode_segment


def token(**_form):
    """Client credentials grant; errors are RFC 6749 JSON, a failed client login is 401."""
    server = current_app.extensions["vigie.oauth"]
    response = server.create_token_response()
    if response.status_code == 400:
        payload = json.loads(response.get_data())
        error = payload.get("error")
        AUTH_FAILURES.labels(error if error in TOKEN_ENDPOINT_REASONS
                             else "invalid_request").inc()
        if payload.get("error") == "invalid_client":
            response.status_code = 401
            response.headers["WWW-Authenticate"] = 'Basic realm="vigie"'
    elif response.status_code == 200:
        claims = decode_segment(json.loads(response.get_data())["access_token"].split(".")[1])
        TOKENS_ISSUED.labels(claims.get("org_type", "unknown")).inc()
    return response


def jwks():
    response = make_response(current_hub().keys.jwks())
    response.headers["Cache-Control"] = "public, max-age=60"
    return response


def metadata():
    settings = current_hub().settings
    base = settings.public_url
    return {
        "issuer": settings.issuer,
        "token_endpoint": f"{base}/oauth/token",
        "jwks_uri": f"{base}/.well-known/jwks.json",
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "scopes_supported": sorted(ALL_SCOPES),
        "response_types_supported": ["token"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
    }
