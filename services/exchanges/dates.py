"""Calendar dates in exchanges are French legal dates: compared in Paris time."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from ..legal.references import PARIS
from .definition import FieldErrors

__all__ = ["PARIS", "end_of_day", "not_future", "not_future_instant", "not_past",
           "paris_today", "period_checked", "today_at_latest"]

# How far ahead of the hub's clock a party's own clock may be.
CLOCK_SKEW = timedelta(minutes=5)


def paris_today(now: datetime) -> date:
    return now.astimezone(PARIS).date()


def end_of_day(day: date) -> datetime:
    """The instant a legal day ends: midnight after it, Paris time."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=PARIS)


def not_future(errors: FieldErrors, field: str, value: str | None, now: datetime) -> None:
    """Record an error when the ISO date `value` is after today (Paris)."""
    if value and date.fromisoformat(value) > paris_today(now):
        errors.append({"field": field, "message": "must not be in the future"})


def not_future_instant(errors: FieldErrors, field: str, value: str | None,
                       now: datetime) -> None:
    """Record an error when the ISO date-time `value` is later than now (with skew)."""
    if value and datetime.fromisoformat(value) > now + CLOCK_SKEW:
        errors.append({"field": field, "message": "must not be in the future"})


def today_at_latest(field: str):
    """A step's rule: its date `field`, when given, is not after today (Paris)."""

    def rule(body: dict, now: datetime) -> FieldErrors:
        errors: FieldErrors = []
        not_future(errors, field, body.get(field), now)
        return errors

    return rule


def not_past(errors: FieldErrors, field: str, value: str | None, now: datetime) -> None:
    """Record an error when the ISO date `value` is before today (Paris)."""
    if value and date.fromisoformat(value) < paris_today(now):
        errors.append({"field": field, "message": "must not be in the past"})


def period_checked(errors: FieldErrors, period: dict | None, now: datetime,
                   field: str = "period") -> None:
    """A period of facts (`from`, optional `to`): begun by today, not ending before it
    begins."""
    period = period or {}
    not_future(errors, f"{field}.from", period.get("from"), now)
    if period.get("from") and period.get("to") and period["to"] < period["from"]:
        errors.append({"field": f"{field}.to", "message": f"must not be before {field}.from"})
