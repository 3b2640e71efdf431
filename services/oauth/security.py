"""Plugs the hub's token verifier into connexion's OAuth2 security scheme."""

from __future__ import annotations

import math

from connexion.security import OAuthSecurityHandler

from ..metrics import AUTH_FAILURES, RATE_LIMITED
from ..problems import Problem
from .ratelimit import RateLimiter
from .tokens import InvalidToken, TokenVerifier


def make_security_handler(verifier: TokenVerifier,
                          limiter: RateLimiter | None = None) -> type[OAuthSecurityHandler]:
    def token_info(token: str) -> dict:
        try:
            claims = verifier.verify(token)
        except InvalidToken as exc:
            AUTH_FAILURES.labels(exc.reason).inc()
            raise Problem(401, "Unauthorized", exc.detail, kind="invalid-token",
                          headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}) from None
        wait = limiter.take(claims["client_id"]) if limiter else 0.0
        if wait:
            RATE_LIMITED.inc()
            raise Problem(429, "Too Many Requests", "this client's rate limit is reached",
                          headers={"Retry-After": str(max(1, math.ceil(wait)))})
        return claims

    class HubOAuthHandler(OAuthSecurityHandler):
        def get_tokeninfo_func(self, security_definition: dict):
            return token_info

    return HubOAuthHandler
