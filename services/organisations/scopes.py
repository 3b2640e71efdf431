"""Which scopes each organisation type may hold (the design's scope table)."""

from __future__ import annotations

SCOPES_BY_TYPE: dict[str, frozenset[str]] = {
    "court": frozenset({
        "information-requests:submit", "information-requests:read",
        "suspension-orders:submit", "suspension-orders:read", "feed:read",
    }),
    "prosecution": frozenset({
        "information-requests:submit", "information-requests:read",
        "order-notifications:submit", "order-notifications:read",
        "suspension-orders:submit", "suspension-orders:read", "feed:read",
    }),
    "state_service": frozenset({
        "information-requests:read", "information-requests:respond",
        "content-notices:submit", "content-notices:read", "feed:read",
    }),
    "health_order": frozenset({
        "order-notifications:read", "order-notifications:acknowledge", "feed:read",
    }),
    "platform": frozenset({
        "content-notices:read", "content-notices:decide",
        "suspension-orders:read", "suspension-orders:execute", "feed:read",
    }),
    "regulator": frozenset({
        "content-notices:submit", "content-notices:read", "oversight:read", "feed:read",
    }),
    "trusted_flagger": frozenset({"content-notices:submit", "content-notices:read", "feed:read"}),
    "operator": frozenset({"oversight:read", "admin"}),
}

ALL_SCOPES = frozenset().union(*SCOPES_BY_TYPE.values())
