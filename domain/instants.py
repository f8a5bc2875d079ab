"""Instants: Herald stores UTC and refuses naive datetimes at every door."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.errors import NaiveDatetime


def require_utc(value: datetime, *, field: str) -> datetime:
    """Return `value` converted to UTC; refuse a datetime that carries no zone."""
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise NaiveDatetime(
            f"{field} has no time zone; give an offset (2026-11-23T09:00:00+01:00) "
            "or a local time with an IANA zone name",
            field=field,
        )
    return value.astimezone(UTC)
