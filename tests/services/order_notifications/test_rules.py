"""Pure rules of the order-notification exchange."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.config import Settings
from services.order_notifications.rules import (
    RETRACTED,
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
def test_acquittals_retract(outcome):
    assert decide_outcome({"outcome": outcome}) == RETRACTED
    assert decide_outcome({"outcome": "conviction_final"}) != RETRACTED


def test_redaction_keeps_no_personal_data():
    kept = redact(example_notification(legal_regime="CPP_11_3",
                                       court={"court_code": "TJ-MARSEILLE"}))
    assert kept == {"legal_regime": "CPP_11_3", "profession": "PHARMACIENS",
                    "measure": {"type": "conviction"}, "court": {"court_code": "TJ-MARSEILLE"}}
