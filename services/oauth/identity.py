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
    # The person behind the call, "<id> (<name>)": an agent signed in to the console, or
    # the user a calling system names (Vigie-Agent). Named in the audit and the evidence.
    agent: str | None = None

    @classmethod
    def from_claims(cls, claims: dict[str, Any], agent: str | None = None) -> Caller:
        return cls(claims["client_id"], claims["org"], claims["org_type"],
                   frozenset(claims["scope"].split()), agent or claims.get("agent"))
