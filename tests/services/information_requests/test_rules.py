"""Unit tests of the rules JSON Schema cannot express (pure logic)."""

from __future__ import annotations

from datetime import UTC, datetime

from services.config import Settings
from services.information_requests.rules import check_request, due_at
from tests.conftest import example_request


def test_due_date_today_in_paris_is_accepted_at_night_utc():
    # 23:30 UTC on 31 Dec is already 1 Jan in Paris.
    now = datetime(2029, 12, 31, 23, 30, tzinfo=UTC)
    assert check_request(example_request(due_date="2030-01-01"), now) == []
    assert check_request(example_request(due_date="2029-12-31"), now) == [
        {"field": "due_date", "message": "must not be in the past"}]


def test_due_at_is_the_end_of_the_day_in_paris():
    at = due_at(example_request(due_date="2030-06-30"), datetime.now(UTC), Settings.from_env({}))
    assert at.astimezone(UTC) == datetime(2030, 6, 30, 22, 0, tzinfo=UTC)


def test_any_one_case_number_is_enough():
    now = datetime(2025, 1, 1, tzinfo=UTC)
    for ref in ("parquet_number", "instruction_number", "pv_number"):
        assert check_request(example_request(case_references={ref: "123"}), now) == []
    assert check_request(example_request(case_references={"parquet_number": ""}), now)[0][
        "field"] == "case_references"
