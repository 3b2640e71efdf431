"""Plugs the hub's token verifier into connexion's OAuth2 security scheme."""

from __future__ import annotations

from connexion.security import OAuthSecurityHandler

from ..metrics import AUTH_FAILURES
from ..problems import Problem
from .tokens import InvalidToken, TokenVerifier


def make_security_handler(verifier: TokenVerifier) -> type[OAuthSecurityHandler]:
    def token_info(token: str) -> dict:
        try:
            return verifier.verify(token)
        except InvalidToken as exc:
            AUTH_FAILURES.labels(exc.reason).inc()
            raise Problem(401, "Unauthorized", exc.detail, kind="invalid-token",
                          headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}) from None

    class HubOAuthHandler(OAuthSecurityHandler):
        def get_tokeninfo_func(self, security_definition: dict):
            return token_info

    return HubOAuthHandler
