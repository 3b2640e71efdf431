"""A platform's decision in the EU Transparency Database's own JSON shape (DSA art. 24(5)),
so that the platform can forward it as it is: the same field names and values, with the
database's "Yes"/"No" for what the contract carries as booleans and territorial scopes as
country codes."""

from __future__ import annotations

from typing import Any

from .rules import EEA, STATEMENT_FIELDS

EU = sorted(EEA - {"IS", "LI", "NO", "EU", "EEA"})
SHORTHANDS = {"EU": EU, "EEA": sorted(EEA - {"EU", "EEA"})}
YES_NO = ("incompatible_content_illegal", "automated_detection")
# The decision's fields the statement carries: the statement's own, the source the hub
# added, and the automation every decision states.
STATEMENT = STATEMENT_FIELDS | {"source_type", "source_identity", "automated_detection",
                                "automated_decision"}


def territorial_scope(codes: list[str]) -> list[str]:
    """Country codes, the EU and EEA shorthands expanded, sorted and unique."""
    return sorted({c for code in codes for c in SHORTHANDS.get(code, [code])})


def transparency_statement(decision: dict[str, Any],
                           published: dict[str, Any] | None) -> dict[str, Any]:
    """The statement of reasons of a restricting decision (with the source the hub added);
    with the database's id (`uuid`) once the platform recorded its publication."""
    out = {k: v for k, v in decision.items() if k in STATEMENT}
    for name in YES_NO:
        if name in out:
            out[name] = "Yes" if out[name] else "No"
    out["territorial_scope"] = territorial_scope(out.get("territorial_scope", []))
    if published:
        out["uuid"] = published["transparency_database_id"]
    return out
