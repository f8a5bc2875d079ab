"""Where local times meet IANA zones: parse an instant at the edge, refuse what is unclear."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from domain.errors import HeraldError, NaiveDatetime
from domain.instants import require_utc


class InvalidInstant(HeraldError):
    code = "invalid_instant"
    field = "scheduled_at"


class InvalidTimezone(HeraldError):
    code = "invalid_timezone"
    field = "timezone"


def zone(name: str) -> ZoneInfo:
    """The IANA zone `name`; anything else (a region's directory such as "Europe", a path, a
    control character, an empty name) is refused with one clear error."""
    try:
        if not name or name != name.strip() or any(not c.isprintable() for c in name):
            raise ValueError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError, UnicodeError):  # IsADirectoryError is an OSError
        raise InvalidTimezone(f"{name!r} is not an IANA time zone name (for example Europe/Paris)") from None


def parse_instant(text: str, timezone: str | None = None, *, field: str = "scheduled_at") -> datetime:
    """The UTC instant for ISO 8601 `text`: with an offset, or a local time in `timezone`.

    A local time that a daylight-saving change skips or repeats is refused, never guessed.
    """
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInstant(
            f"{text!r} is not an ISO 8601 date-time (2026-11-23T09:00:00+01:00)", field=field
        ) from None
    if value.tzinfo is not None:
        if timezone is not None:
            raise InvalidInstant(
                f"{text!r} carries its own offset and timezone {timezone!r} was given too; give one or the other",
                field="timezone",
            )
        return require_utc(value, field=field)
    if timezone is None:
        raise NaiveDatetime(f"{text!r} has no offset; add one or give a timezone (an IANA name)", field=field)
    return local_to_utc(value, zone(timezone), field=field)


def local_to_utc(local: datetime, tz: ZoneInfo, *, field: str) -> datetime:
    early = local.replace(tzinfo=tz, fold=0)
    late = local.replace(tzinfo=tz, fold=1)
    if early.utcoffset() != late.utcoffset():
        round_trip = early.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
        if round_trip != local:
            raise InvalidInstant(f"{local.isoformat()} does not exist in {tz.key}: the clocks skip it", field=field)
        raise InvalidInstant(
            f"{local.isoformat()} happens twice in {tz.key} (the clocks go back); "
            "give an explicit offset to choose one",
            field=field,
        )
    return require_utc(early, field=field)
