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
        "suspension-orders:submit", "suspension-orders:read",
        "offence-reports:read", "offence-reports:decide", "feed:read",
    }),
    # Miviludes, the ministries, the regional health agencies' référents: they answer
    # the courts, report to the parquet (art. 40) and to the orders, send signalements
    # (Miviludes receives and qualifies them) and read the statistics.
    "state_service": frozenset({
        "information-requests:read", "information-requests:respond",
        "content-notices:submit", "content-notices:read",
        "signalements:submit", "signalements:read", "signalements:qualify",
        "offence-reports:submit", "offence-reports:read",
        "order-reports:submit", "order-reports:read",
        "statistics:read", "feed:read",
    }),
    "health_order": frozenset({
        "order-notifications:read", "order-notifications:acknowledge",
        "order-reports:read", "order-reports:respond", "feed:read",
    }),
    "platform": frozenset({
        "content-notices:read", "content-notices:decide",
        "suspension-orders:read", "suspension-orders:execute", "feed:read",
    }),
    "regulator": frozenset({
        "content-notices:submit", "content-notices:read", "oversight:read", "feed:read",
    }),
    "trusted_flagger": frozenset({"content-notices:submit", "content-notices:read", "feed:read"}),
    "association": frozenset({"signalements:submit", "signalements:read", "feed:read"}),
    "operator": frozenset({"oversight:read", "admin"}),
}

ALL_SCOPES = frozenset().union(*SCOPES_BY_TYPE.values())
