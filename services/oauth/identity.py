"""Who is calling, as every handler sees it: read from the verified access token."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Caller:
    client_id: str
    org_id: str
    org_type: str
    scopes: frozenset[str]

    @classmethod
    def from_claims(cls, claims: dict[str, Any]) -> Caller:
        return cls(claims["client_id"], claims["org"], claims["org_type"],
                   frozenset(claims["scope"].split()))
