"""Calendar dates in exchanges are French legal dates: compared in Paris time."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from .definition import FieldErrors

PARIS = ZoneInfo("Europe/Paris")


def paris_today(now: datetime) -> date:
    return now.astimezone(PARIS).date()


def not_future(errors: FieldErrors, field: str, value: str | None, now: datetime) -> None:
    """Record an error when the ISO date `value` is after today (Paris)."""
    if value and date.fromisoformat(value) > paris_today(now):
        errors.append({"field": field, "message": "must not be in the future"})


def not_past(errors: FieldErrors, field: str, value: str | None, now: datetime) -> None:
    """Record an error when the ISO date `value` is before today (Paris)."""
    if value and date.fromisoformat(value) < paris_today(now):
        errors.append({"field": field, "message": "must not be in the past"})
