"""Pure rules of the order-notification exchange."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.config import Settings
from services.order_notifications.rules import (
    AWAITING_FINAL,
    OUTCOME_NOTIFIED,
    RETRACTED,
    check_notification,
    check_outcome,
    decide_outcome,
    due_at,
    redact,
    rpps_is_valid,
)
from tests.conftest import example_notification


@pytest.mark.parametrize("rpps,valid", [
    ("10001234565", True), ("10123456781", True), ("10001234566", False),
    ("10101010101", False), ("10000000009", True),
])
def test_luhn(rpps, valid):
    assert rpps_is_valid(rpps) is valid


def test_acknowledgement_target_is_configurable():
    now = datetime(2025, 1, 1, tzinfo=UTC)
    assert due_at({}, now, Settings.from_env({})) == now + timedelta(days=5)
    two_days = Settings.from_env({"VIGIE_DEADLINE_ORDER_NOTIFICATIONS_ACKNOWLEDGEMENT": "48h"})
    assert due_at({}, now, two_days) == now + timedelta(days=2)


@pytest.mark.parametrize("outcome", ["non_lieu", "relaxe", "acquittal"])
def test_final_acquittals_retract_those_under_appeal_wait(outcome):
    now = datetime(2025, 12, 1, tzinfo=UTC)
    assert decide_outcome({"outcome": outcome, "final": True}, now) == RETRACTED
    assert decide_outcome({"outcome": outcome, "final": False}, now) == AWAITING_FINAL
    assert decide_outcome({"outcome": "conviction_final"}, now) == OUTCOME_NOTIFIED
    assert decide_outcome({"outcome": "conviction_not_final"}, now) == AWAITING_FINAL


def test_what_erases_is_dated_data_with_its_reference(monkeypatch, tmp_path):
    """A new text (or the ministry's reading) that makes a déclaration d'irresponsabilité
    pénale erase too is a new dated entry of the table: from its date, not before."""
    import yaml

    from services.legal import references
    from services.order_notifications import rules

    table = yaml.safe_load(references.TABLE.read_text())
    entry = next(e for e in table["references"] if e["key"] == "order-notifications")
    assert entry["erasing_outcomes"] == ["non_lieu", "relaxe", "acquittal"]
    later = {**entry, "in_force_from": datetime(2030, 1, 1).date(),
             "erasing_outcomes": [*entry["erasing_outcomes"], "irresponsabilite_penale"]}
    entry["in_force_until"] = datetime(2029, 12, 31).date()
    table["references"].append(later)
    path = tmp_path / "references.yaml"
    path.write_text(yaml.safe_dump(table, allow_unicode=True))
    monkeypatch.setattr(rules, "REFERENCES", references.References.load(path))
    body = {"outcome": "irresponsabilite_penale", "final": True}
    assert decide_outcome(body, datetime(2029, 6, 1, tzinfo=UTC)) == OUTCOME_NOTIFIED
    assert decide_outcome(body, datetime(2030, 6, 1, tzinfo=UTC)) == RETRACTED
    # And from then on the sender must say whether it is final.
    fields = [e["field"] for e in check_outcome(
        {"outcome": "irresponsabilite_penale", "decision_date": "2030-05-01"},
        datetime(2030, 6, 1, tzinfo=UTC))]
    assert fields == ["final"]


def test_outcome_finality_is_stated_consistently():
    now = datetime(2025, 12, 1, tzinfo=UTC)

    def fields(body):
        return [e["field"] for e in check_outcome({"decision_date": "2025-11-20", **body}, now)]

    assert fields({"outcome": "relaxe"}) == ["final"]
    assert fields({"outcome": "relaxe", "final": False}) == []
    assert fields({"outcome": "conviction_final", "final": False}) == ["final"]
    assert fields({"outcome": "measure_lifted", "final": True}) == ["final"]
    assert fields({"outcome": "dispense_de_peine"}) == []


def test_the_rpps_is_optional_but_checked_when_given():
    now = datetime(2025, 12, 1, tzinfo=UTC)
    body = example_notification()
    del body["professional"]["rpps"]
    assert check_notification(body, now) == []
    body["professional"]["rpps"] = "10001234566"
    assert [e["field"] for e in check_notification(body, now)] == ["professional.rpps"]


def test_redaction_keeps_no_personal_data():
    kept = redact(example_notification(legal_regime="CPP_11_3",
                                       court={"court_code": "TJ-MARSEILLE"}))
    assert kept == {"legal_regime": "CPP_11_3", "profession": "PHARMACIENS",
                    "measure": {"type": "conviction"}, "court": {"court_code": "TJ-MARSEILLE"}}
