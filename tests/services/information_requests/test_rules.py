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


def test_a_prosecution_under_way_is_required():
    """Art. 157-3 serves a prosecution under way: a parquet number with how it was brought,
    an instruction or a trial; a police report number alone is refused."""
    now = datetime(2025, 1, 1, tzinfo=UTC)
    for refs in ({"parquet_number": "123", "prosecution_stage": "citation"},
                 {"instruction_number": "JI-1"}, {"trial_reference": "RG 24/1"},
                 {"instruction_number": "JI-1", "pv_number": "PV-9"}):
        assert check_request(example_request(case_references=refs), now) == [], refs
    fields = {
        "pv": {"pv_number": "PV-9"},
        "parquet": {"parquet_number": "123"},
        "parquet and pv": {"parquet_number": "123", "pv_number": "PV-9"},
        "empty": {"parquet_number": ""},
    }
    got = {name: [e["field"] for e in check_request(example_request(case_references=refs),
                                                    now)]
           for name, refs in fields.items()}
    assert got == {"pv": ["case_references"],
                   "parquet": ["case_references.prosecution_stage"],
                   "parquet and pv": ["case_references.prosecution_stage"],
                   "empty": ["case_references"]}


def test_the_answer_is_a_dated_signed_statement_after_the_notice():
    from services.information_requests.rules import check_answer

    now = datetime(2025, 6, 1, 12, tzinfo=UTC)
    good = {"text": "x", "signed_by": {"name": "A", "capacity": "B"},
            "signed_on": "2025-06-01", "notice_acknowledged": True}
    assert check_answer(good, now) == []
    assert [e["field"] for e in check_answer(
        {**good, "signed_on": "2025-06-02", "notice_acknowledged": False}, now)] == [
        "signed_on", "notice_acknowledged"]
