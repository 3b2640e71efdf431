"""Token endpoint, RFC 8414 metadata and the JWKS."""

from __future__ import annotations

import base64
import json
from urllib.parse import unquote, urlencode

import anyio
from connexion import request
from starlette.responses import JSONResponse, Response

from ..hub import current_hub
from ..metrics import AUTH_FAILURES, RATE_LIMITED, TOKENS_ISSUED
from ..organisations.scopes import ALL_SCOPES
from ..problems import too_many_requests
from .server import ASSERTION_ALGORITHMS, AUTH_METHODS
from .tokens import TOKEN_ENDPOINT_REASONS, decode_segment


async def token(body: dict):
    """Client credentials grant; errors are RFC 6749 JSON, a failed client login is 401."""
    endpoint = current_hub().oauth
    client_id = str(body.get("client_id") or _basic_user(request.headers.get("authorization"))
                    or _assertion_subject(body.get("client_assertion")))
    wait = endpoint.limiter.take(client_id[:64]) if endpoint.limiter and client_id else 0.0
    if wait:
        RATE_LIMITED.inc()
        raise too_many_requests("too many logins for this client id", wait)
    # connexion has read the form (and checked it against the contract): authlib gets it
    # again, encoded as it came.
    form = urlencode(body).encode()
    headers = [(k, v) for k, v in request.headers.items()
               if k.lower() not in ("content-length", "host")]
    # The secret check (scrypt) runs in a thread: the event loop serves other requests.
    # The endpoint's URL is the hub's own, whatever Host the client sent.
    url = current_hub().settings.public_url + "/oauth/token"
    status, headers, data = await anyio.to_thread.run_sync(
        endpoint.respond, request.method, url, headers, form)
    if status in (400, 401):
        payload = json.loads(data)
        error = payload.get("error")
        AUTH_FAILURES.labels(error if error in TOKEN_ENDPOINT_REASONS
                             else "invalid_request").inc()
        if payload.get("error") == "invalid_client":
            status = 401
            headers["WWW-Authenticate"] = 'Basic realm="vigie"'
    elif status == 200:
        claims = decode_segment(json.loads(data)["access_token"].split(".")[1])
        TOKENS_ISSUED.labels(claims.get("org_type", "unknown")).inc()
    headers.pop("Content-Length", None)
    return Response(data, status, headers=headers)


def _assertion_subject(assertion: object) -> str:
    """The client id a private_key_jwt assertion claims (unverified: for the login rate
    limit only; authlib verifies it)."""
    if not isinstance(assertion, str) or assertion.count(".") != 2:
        return ""
    try:
        sub = decode_segment(assertion.split(".")[1]).get("sub")
    except (ValueError, AttributeError):
        return ""
    return sub if isinstance(sub, str) else ""


def _basic_user(header: str | None) -> str:
    """The client id of an HTTP Basic header ('' when there is none or it is malformed)."""
    if not header or not header.lower().startswith("basic "):
        return ""
    try:
        return unquote(base64.b64decode(header[6:], validate=True).decode().split(":", 1)[0])
    except (ValueError, UnicodeDecodeError):
        return ""


def jwks():
    return JSONResponse(current_hub().keys.jwks(), headers={"Cache-Control": "public, max-age=60"})


def metadata():
    settings = current_hub().settings
    base = settings.public_url
    return {
        "issuer": settings.issuer,
        "token_endpoint": f"{base}/oauth/token",
        "jwks_uri": f"{base}/.well-known/jwks.json",
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": AUTH_METHODS,
        "scopes_supported": sorted(ALL_SCOPES),
        "response_types_supported": ["token"],
        "token_endpoint_auth_signing_alg_values_supported": ASSERTION_ALGORITHMS,
    }
