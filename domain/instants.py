"""Instants: Herald stores UTC and refuses naive datetimes at every door."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.errors import DueOutOfRange, InstantOutOfRange, NaiveDatetime

# Posts fall due before this instant. Far enough for any plan; near enough that a deadline
# (due + grace) and every date arithmetic after it stay inside the calendar's year 9999.
LATEST_DUE = datetime(2200, 1, 1, tzinfo=UTC)
EARLIEST_DUE = datetime(2000, 1, 1, tzinfo=UTC)  # and after this, so a window before it is a date too


def require_utc(value: datetime, *, field: str) -> datetime:
    """Return `value` converted to UTC; refuse a datetime that carries no zone, or one that
    leaves the calendar (years 1 to 9999) once in UTC."""
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise NaiveDatetime(
            f"{field} has no time zone; give an offset (2026-11-23T09:00:00+01:00) "
            "or a local time with an IANA zone name",
            field=field,
        )
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise InstantOutOfRange(
            f"{field} {value.isoformat()} falls outside the years 1 to 9999 once in UTC", field=field
        ) from None


def require_due(value: datetime, *, field: str = "scheduled_at") -> datetime:
    """A due instant: in UTC, between `EARLIEST_DUE` and `LATEST_DUE` (checked before any
    arithmetic on it: windows before it, deadlines after it)."""
    due = require_utc(value, field=field)
    if not EARLIEST_DUE <= due < LATEST_DUE:
        raise DueOutOfRange(
            f"{field} must be between {EARLIEST_DUE.isoformat()} and {LATEST_DUE.isoformat()}, not {due.isoformat()}",
            field=field,
        )
    return due
