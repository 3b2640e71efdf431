"""The hub's OAuth2 authorization server: client credentials grant, RFC 9068 JWTs.

authlib does the protocol (client authentication, error responses); this module
supplies the clients, the scope policy and the claims the hub's tokens carry.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, grants
from authlib.oauth2.rfc6749.errors import InvalidClientError, InvalidScopeError
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from authlib.oauth2.rfc9068 import JWTBearerTokenGenerator
from flask import Flask
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy.exc import IntegrityError
from werkzeug.test import EnvironBuilder

from ..config import Settings
from ..db import Database
from ..organisations.models import Client
from ..organisations.service import hash_secret, remember_assertion, verify_secret
from .keys import ALG, KeyRing
from .ratelimit import RateLimiter


@dataclass
class OAuthClient(ClientMixin):
    """authlib's view of a client, detached from the database session."""

    client_id: str
    secret_hashes: tuple[str, ...]
    scopes: frozenset[str]
    org_id: str
    org_type: str
    # Its registered public keys (JWK JSON), for private_key_jwt.
    public_keys: tuple[str, ...] = ()

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> None:
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        wanted = set(scope.split()) if scope else set(self.scopes)
        return " ".join(sorted(wanted & self.scopes))

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    # A stand-in for an unknown or disabled client: its secret check costs what a real
    # one costs and never passes, so that neither the answer nor its timing tells
    # whether a client id exists.
    known: bool = True

    def check_client_secret(self, client_secret: str) -> bool:
        # Each valid secret is tried (two while the client rotates), none skipped: the
        # time taken tells nothing of which one matched.
        matches = [verify_secret(client_secret, h) for h in self.secret_hashes]
        return any(matches) and self.known

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if endpoint != "token":
            return False
        if method == PRIVATE_KEY_JWT:
            return bool(self.public_keys)
        return method in SECRET_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "client_credentials"


PRIVATE_KEY_JWT = "private_key_jwt"
SECRET_METHODS = ("client_secret_basic", "client_secret_post")
# How a client authenticates at the token endpoint (also the RFC 8414 metadata).
AUTH_METHODS = [*SECRET_METHODS, PRIVATE_KEY_JWT]
# An assertion may live this long at most (its `jti` is kept as long, against replay).
ASSERTION_MAX_SECONDS = 300
ASSERTION_ALGORITHMS = ["RS256", "PS256", "ES256", "ES384", "EdDSA"]


class ClientAssertion(JWTBearerClientAssertion):
    """`private_key_jwt` (RFC 7523 §2.2, OpenID Connect Core §9): the client signs a
    short-lived JWT (iss = sub = its client id, aud = the token endpoint, a fresh `jti`)
    with a private key whose public half it registered; each assertion is used once."""

    CLIENT_AUTH_METHOD = PRIVATE_KEY_JWT

    def __init__(self, db: Database, token_url: str, issuer: str):
        super().__init__(validate_jti=True, leeway=30)
        self._db, self._audiences = db, [token_url, issuer]

    def get_audiences(self) -> list[str]:
        return self._audiences

    def resolve_client_public_key(self, client: OAuthClient) -> KeySet:
        if not client.public_keys:  # unknown, or a client of secrets only
            raise InvalidClientError(description="the client has no registered key")
        return KeySet.import_key_set({"keys": [json.loads(k) for k in client.public_keys]})

    def process_assertion_claims(self, assertion, resolve_key):
        try:
            token = jwt.decode(assertion, resolve_key, algorithms=ASSERTION_ALGORITHMS)
        except (JoseError, ValueError) as refused:
            raise InvalidClientError(description="the assertion's signature does not "
                                     "verify with a key of the client") from refused
        self.verify_claims(token.claims)
        return token.claims

    def validate_jti(self, claims, jti) -> bool:
        exp = claims.get("exp")
        if not isinstance(jti, str) or not 0 < len(jti) <= 200:
            raise InvalidClientError(description="jti must be a string of 1 to 200 "
                                     "characters")
        if not isinstance(exp, int | float) or exp - time.time() > ASSERTION_MAX_SECONDS:
            raise InvalidClientError(description="the assertion must expire within "
                                     f"{ASSERTION_MAX_SECONDS} seconds")
        try:
            with self._db.transaction() as session:
                fresh = remember_assertion(session, claims["sub"], jti,
                                           datetime.fromtimestamp(exp, UTC))
        except IntegrityError:
            return False
        return fresh


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS

    def validate_requested_scope(self) -> None:
        """Refuse (rather than silently narrow) a scope the client does not hold."""
        requested = self.request.payload.scope
        if requested:
            extra = set(requested.split()) - self.request.client.scopes
            if extra:
                raise InvalidScopeError(
                    description=f"the client does not hold {' '.join(sorted(extra))}")


class HubTokenGenerator(JWTBearerTokenGenerator):
    def __init__(self, keys: KeyRing, settings: Settings):
        super().__init__(issuer=settings.issuer, alg=ALG,
                         expires_generator=lambda client, grant_type: settings.token_ttl_seconds)
        self._keys = keys
        self._audience = settings.audience
        self._kafka_audience = settings.kafka_audience

    def get_jwks(self):
        return self._keys.signing_set()

    def get_audiences(self, client, user, scope):
        """The API; and the broker, for a token that may read a feed."""
        if "feed:read" in (scope or "").split():
            return [self._audience, self._kafka_audience]
        return self._audience

    def get_jti(self, client, grant_type, user, scope) -> str:
        return secrets.token_urlsafe(16)

    def get_extra_claims(self, client, grant_type, user, scope):
        return {"org": client.org_id, "org_type": client.org_type}


@dataclass
class TokenEndpoint:
    """authlib's Flask authorization server behind an ASGI app: each token request is
    replayed into a Flask request context (client logins are rare: tokens live 15 min)."""

    flask_app: Flask
    server: AuthorizationServer
    # Logins per client id, checked before the secret (scrypt) is.
    limiter: RateLimiter | None = None

    def respond(self, method: str, url: str, headers: list[tuple[str, str]],
                body: bytes) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(url)
        environ = EnvironBuilder(
            path=parts.path, base_url=f"{parts.scheme}://{parts.netloc}", method=method,
            headers=headers, data=body, query_string=parts.query).get_environ()
        with self.flask_app.request_context(environ):
            response = self.server.create_token_response()
            return response.status_code, dict(response.headers), response.get_data()


def make_authorization_server(flask_app: Flask, db: Database, keys: KeyRing,
                              settings: Settings) -> TokenEndpoint:
    decoy = hash_secret(secrets.token_urlsafe(32))

    def query_client(client_id: str) -> OAuthClient | None:
        with db.sessions() as session:
            client = session.get(Client, client_id[:64])
            if client is None or not client.enabled:
                return OAuthClient(client_id, (decoy,), frozenset(), "", "", known=False)
            # A client with keys only still costs a secret check (the decoy's), so that
            # timing does not tell how it authenticates.
            return OAuthClient(client.client_id,
                               tuple(s.secret_hash for s in client.secrets) or (decoy,),
                               client.scope_set, client.org_id, client.organisation.type,
                               tuple(k.jwk for k in client.keys))

    server = AuthorizationServer(flask_app, query_client=query_client,
                                 save_token=lambda token, request: None)
    server.register_grant(ClientCredentialsGrant)
    server.register_client_auth_method(PRIVATE_KEY_JWT, ClientAssertion(
        db, settings.public_url + "/oauth/token", settings.issuer))
    server.register_token_generator("client_credentials", HubTokenGenerator(keys, settings))
    return TokenEndpoint(flask_app, server, RateLimiter(settings.token_rate_limit_per_minute,
                                                        settings.token_rate_limit_burst))
