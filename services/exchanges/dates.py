"""Calendar dates in exchanges are French legal dates: compared in Paris time."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from ..legal.references import PARIS
from .definition import FieldErrors

__all__ = ["PARIS", "end_of_day", "not_future", "not_past", "paris_today"]


def paris_today(now: datetime) -> date:
    return now.astimezone(PARIS).date()


def end_of_day(day: date) -> datetime:
    """The instant a legal day ends: midnight after it, Paris time."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=PARIS)


def not_future(errors: FieldErrors, field: str, value: str | None, now: datetime) -> None:
    """Record an error when the ISO date `value` is after today (Paris)."""
    if value and date.fromisoformat(value) > paris_today(now):
        errors.append({"field": field, "message": "must not be in the future"})


def not_past(errors: FieldErrors, field: str, value: str | None, now: datetime) -> None:
    """Record an error when the ISO date `value` is before today (Paris)."""
    if value and date.fromisoformat(value) < paris_today(now):
        errors.append({"field": field, "message": "must not be in the past"})
