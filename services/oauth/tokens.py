"""Verification of RFC 9068 access tokens, done locally with the cached key ring."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass

from joserfc import jwt
from joserfc.errors import JoseError

from ..organisations.directory import Directory
from ..organisations.scopes import SCOPES_BY_TYPE
from .external import ExternalKeys
from .keys import ALG, KeyRing

REQUIRED_CLAIMS = ("iss", "sub", "aud", "exp", "iat", "jti", "scope", "client_id", "org",
                   "org_type")
LEEWAY_SECONDS = 30
MAX_TOKEN_SECONDS = 900  # the hub's own tokens live 15 minutes at most; so must others


# Why an access token is refused: the bounded label set of vigie_auth_failures_total.
REASONS = ("algorithm", "audience", "claims", "expired", "issuer", "lifetime", "malformed",
           "not_yet_valid", "revoked", "scope", "signature", "type", "unknown_key",
           "unknown_org")
# Why the token endpoint refuses a client (RFC 6749 section 5.2).
TOKEN_ENDPOINT_REASONS = ("invalid_client", "invalid_grant", "invalid_request", "invalid_scope",
                          "unauthorized_client", "unsupported_grant_type")


MAX_CACHED_TOKENS = 10_000


class InvalidToken(Exception):
    """A token that must be refused; `reason` is a bounded label for metrics."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason if reason in REASONS else "malformed"
        self.detail = detail


def decode_segment(data: str) -> dict:
    """A base64url JSON segment of a compact JWS, unverified."""
    padded = data + "=" * (-len(data) % 4)
    value = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    if not isinstance(value, dict):
        raise ValueError("not an object")
    return value


@dataclass
class TokenVerifier:
    keys: KeyRing
    issuer: str
    audience: str
    # A trusted external identity provider: its keys vouch only for its own issuer.
    external: ExternalKeys | None = None
    # The registry: disabled clients, and what an external token's organisation may hold.
    directory: Directory | None = None

    def __post_init__(self) -> None:
        # Verified tokens until they expire: a client reuses its token for every request,
        # and an RS256 check is most of what authenticating it costs.
        self._verified: dict[str, tuple[dict, str, float]] = {}

    def verify(self, token: str, now: float | None = None) -> dict:
        now = time.time() if now is None else now
        cached = self._verified.get(token)
        if cached is not None:
            claims, kid, exp = cached
            # Still valid, and its key still trusted (a withdrawn key ends its tokens).
            if exp > now - LEEWAY_SECONDS and (self.keys.public_key(kid) is not None or (
                    self.external is not None and self.external.public_key(kid) is not None)):
                self._not_revoked(claims)
                return dict(claims)
            self._verified.pop(token, None)
        claims = self._verify(token, now)
        self._not_revoked(claims)
        if len(self._verified) >= MAX_CACHED_TOKENS:
            self._verified.clear()
        self._verified[token] = (claims, decode_segment(token.split(".")[0])["kid"],
                                 float(claims["exp"]))
        return dict(claims)

    def _verify(self, token: str, now: float) -> dict:
        parts = token.split(".")
        if len(parts) != 3:
            raise InvalidToken("malformed", "the token is not a compact JWS")
        try:
            header = decode_segment(parts[0])
        except (ValueError, UnicodeError):
            raise InvalidToken("malformed", "the token header is not valid JSON") from None
        if header.get("alg") != ALG:
            raise InvalidToken("algorithm", f"tokens must be signed with {ALG}")
        if header.get("typ") not in ("at+jwt", "application/at+jwt"):
            raise InvalidToken("type", "the token is not a JWT access token (typ at+jwt)")
        kid = header.get("kid")
        key = self.keys.public_key(kid) if isinstance(kid, str) else None
        issuer = self.issuer
        if key is None and self.external is not None and isinstance(kid, str):
            key, issuer = self.external.public_key(kid), self.external.issuer
        if key is None:
            raise InvalidToken("unknown_key", "the token is signed with an unknown key")
        try:
            claims = jwt.decode(token, key, algorithms=[ALG]).claims
        except (JoseError, ValueError):
            raise InvalidToken("signature", "the token signature is not valid") from None
        missing = [c for c in REQUIRED_CLAIMS if c not in claims]
        if missing:
            raise InvalidToken("claims", f"the token lacks the claims {', '.join(missing)}")
        if not isinstance(claims["exp"], int | float) or claims["exp"] <= now - LEEWAY_SECONDS:
            raise InvalidToken("expired", "the token has expired")
        if not isinstance(claims["iat"], int | float) or claims["iat"] > now + LEEWAY_SECONDS:
            raise InvalidToken("not_yet_valid", "the token is issued in the future")
        if "nbf" in claims and (not isinstance(claims["nbf"], int | float)
                                or claims["nbf"] > now + LEEWAY_SECONDS):
            raise InvalidToken("not_yet_valid", "the token is not valid yet")
        if claims["iss"] != issuer:
            raise InvalidToken("issuer", "the token comes from another issuer")
        aud = claims["aud"]
        if self.audience not in (aud if isinstance(aud, list) else [aud]):
            raise InvalidToken("audience", "the token is meant for another audience")
        if not isinstance(claims["scope"], str) or not isinstance(claims["org"], str):
            raise InvalidToken("claims", "the token claims have the wrong types")
        if issuer != self.issuer:
            return self._bounded(dict(claims))
        return dict(claims)

    def _not_revoked(self, claims: dict) -> None:
        if self.directory is not None and self.directory.client_disabled(
                str(claims["client_id"])):
            raise InvalidToken("revoked", "this client is disabled")

    def _bounded(self, claims: dict) -> dict:
        """An external provider's token holds only what the registry allows: a known
        organisation, its type, scopes that type may hold, the hub's own lifetime."""
        if claims["exp"] - claims["iat"] > MAX_TOKEN_SECONDS:
            raise InvalidToken("lifetime", "the token lives longer than 15 minutes")
        entry = self.directory.get(claims["org"]) if self.directory is not None else None
        if entry is None:
            raise InvalidToken("unknown_org", "the token names an organisation the hub "
                               "does not know")
        if claims["org_type"] != entry.type:
            raise InvalidToken("claims", "the token's organisation type is not the "
                               "organisation's")
        if not set(claims["scope"].split()) <= SCOPES_BY_TYPE[entry.type]:
            raise InvalidToken("scope", "the token holds scopes its organisation type may "
                               "not hold")
        return claims
