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
    assert decide_outcome({"outcome": outcome, "final": True}) == RETRACTED
    assert decide_outcome({"outcome": outcome, "final": False}) == AWAITING_FINAL
    assert decide_outcome({"outcome": "conviction_final"}) == OUTCOME_NOTIFIED
    assert decide_outcome({"outcome": "conviction_not_final"}) == AWAITING_FINAL


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
