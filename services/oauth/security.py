"""Plugs the hub's token verifier into connexion's OAuth2 security scheme."""

from __future__ import annotations

import functools

from connexion.security import OAuthSecurityHandler

from ..metrics import AUTH_FAILURES, RATE_LIMITED
from ..problems import Problem, too_many_requests
from .ratelimit import RateLimiter
from .tokens import InvalidToken, TokenVerifier

CLAIMS = "vigie.claims"  # the verified token's claims, in the ASGI scope's extensions


def make_security_handler(verifier: TokenVerifier,
                          limiter: RateLimiter | None = None) -> type[OAuthSecurityHandler]:
    def token_info(token: str, request=None) -> dict:
        try:
            claims = verifier.verify(token)
        except InvalidToken as exc:
            AUTH_FAILURES.labels(exc.reason).inc()
            raise Problem(401, "Unauthorized", exc.detail, kind="invalid-token",
                          headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}) from None
        if request is not None:
            # Whatever follows (a missing scope: 403, the rate limit: 429) is audited as
            # this client's, not an anonymous caller's.
            request.scope.setdefault("extensions", {})[CLAIMS] = claims
        wait = limiter.take(claims["client_id"]) if limiter else 0.0
        if wait:
            RATE_LIMITED.inc()
            raise too_many_requests("this client's rate limit is reached", wait)
        return claims

    class HubOAuthHandler(OAuthSecurityHandler):
        # connexion inspects the function's signature on every request; it never changes.
        _accepts_kwarg = staticmethod(functools.lru_cache(maxsize=64)(
            OAuthSecurityHandler._accepts_kwarg))

        def get_tokeninfo_func(self, security_definition: dict):
            return token_info

    return HubOAuthHandler
