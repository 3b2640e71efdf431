"""Legal references as dated data: each exchange cites the reference in force on the day,
a successor takes over on its date, and records keep what they cited."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from services.exchanges.registry import EXCHANGES
from services.legal.references import REFERENCES, Reference, References

OLD = Reference("information-requests", "art. 157-3 CPP", "…", "loi n° 2024-420",
                date(2024, 5, 12), date(2029, 12, 31))
NEW = Reference("information-requests", "art. 221-7 CPP (recodified)", "…",
                "ordonnance n° 2025-1091", date(2030, 1, 1))


def test_every_exchange_and_oversight_cite_a_reference_in_force_today():
    today = datetime.now(UTC)
    for key in [*EXCHANGES, "oversight"]:
        ref = REFERENCES.at(key, today)
        assert ref.reference and ref.wording and ref.source, key
    assert REFERENCES.at("oversight", today).reference == "DSA art. 22 and 49-51"
    assert "131-35-1" not in REFERENCES.at("oversight", today).reference


def test_a_successor_takes_over_on_its_date_in_paris_time():
    table = References([NEW, OLD])
    assert table.at("information-requests", date(2029, 12, 31)) is OLD
    assert table.at("information-requests", date(2030, 1, 1)) is NEW
    # 23:30 UTC on 31 December is already 1 January in Paris.
    late = datetime(2029, 12, 31, 23, 30, tzinfo=UTC)
    assert table.at("information-requests", late) is NEW
    with pytest.raises(LookupError):
        table.at("information-requests", date(2024, 5, 11))  # before the law
    with pytest.raises(LookupError):
        table.at("unknown", date(2026, 1, 1))


def test_overlapping_versions_are_refused():
    open_ended = Reference(**{**OLD.__dict__, "in_force_until": None})
    with pytest.raises(ValueError, match="still in force"):
        References([open_ended, NEW])


def test_items_evidence_and_audit_cite_the_table(stack):
    from sqlalchemy import select

    from services.audit.models import AuditEntry
    from tests.conftest import example_request

    court = stack.api("tj-paris")
    item = court.post("/v1/information-requests", example_request()).json()
    assert item["legal_basis"] == "art. 157-3 CPP"
    records = court.get(f"/v1/information-requests/{item['id']}/evidence").json()["evidence"]
    assert {r["claims"]["basis"] for r in records} == {"art. 157-3 CPP"}
    assert stack.api("arcom").get("/v1/oversight/platforms").status_code == 200
    with stack.hub.db.sessions() as session:
        basis = session.scalar(select(AuditEntry.legal_basis).where(
            AuditEntry.object.like("/v1/oversight/%")).order_by(AuditEntry.seq.desc()))
    assert basis == "DSA art. 22 and 49-51"
