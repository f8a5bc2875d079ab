"""When a recurring rule falls due: RFC 5545 `RRULE`s (python-dateutil's `rrule`) over a
local time of day in an IANA zone, resolved to UTC instants the way people mean them.

The rule recurs in *local* dates and times, so "09:00 every day in Europe/Paris" stays at
09:00 on the wall across both daylight-saving changes. Where the wall clock skips the time
(a spring-forward gap), the occurrence moves to the first instant that exists after it; where
it shows the time twice (a fall-back overlap), the occurrence takes the first of the two.
Each occurrence says which, so the event that materialises it can too.

Pure: the zone comes in as a `tzinfo` (the edge turns a name into one), nothing reads a clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Literal

from dateutil import rrule as rrules

from domain.base import Immutable
from domain.errors import HeraldError

Adjustment = Literal["moved_out_of_gap", "first_of_repeated"]
LONGEST_RULE = 5000  # occurrences a rule may have; an endless rule is refused


class InvalidRule(HeraldError):
    code = "invalid_rrule"
    field = "rrule"


class Occurrence(Immutable):
    """One occurrence: its local date (its identity within the rule), the UTC instant it falls
    due, and how the zone's clock changes moved it, if they did."""

    local_date: date
    local_time: time
    due_at: datetime
    adjustment: Adjustment | None = None


class Recurrence(Immutable):
    """`rrule` without DTSTART: FREQ, INTERVAL, BYDAY…, and COUNT or UNTIL (a date)."""

    rrule: str
    starts: date
    at: time

    def check(self) -> None:
        """Refuse what is not a finite RFC 5545 rule over dates, naming what is wrong."""
        self._starts()

    def occurrences(self, zone: tzinfo, *, after: datetime, until: datetime) -> Iterator[Occurrence]:
        """Every occurrence due at or after `after` and before `until` (both UTC), in order."""
        last: date | None = None
        for local in self._starts():
            if local.date() == last:  # BYHOUR and the like: a rule recurs in dates, at `at`
                continue
            last = local.date()
            occurrence = resolve(local.date(), self.at, zone)
            if occurrence.due_at >= until:
                return
            if occurrence.due_at >= after:
                yield occurrence

    def _starts(self) -> Iterator[datetime]:
        """The rule's local dates, as naive midnights (dateutil's rrule over the start date)."""
        text = self.rrule.strip()
        if text.upper().startswith("RRULE:"):
            text = text[len("RRULE:") :]
        if not text or any(c in text for c in "\r\n") or "DTSTART" in text.upper():
            raise InvalidRule("give one RRULE line without DTSTART (the rule's start date is given apart)")
        start = datetime.combine(self.starts, time())
        try:
            rule = rrules.rrulestr(f"RRULE:{text}", dtstart=start, forceset=False, ignoretz=True)
        except (ValueError, TypeError, OverflowError) as problem:
            raise InvalidRule(f"{self.rrule!r} is not an RFC 5545 RRULE: {problem}") from None
        if not isinstance(rule, rrules.rrule):
            raise InvalidRule("give one RRULE, not a set")
        parts = dict(p.split("=", 1) for p in text.upper().split(";") if "=" in p)
        if "COUNT" not in parts and "UNTIL" not in parts:
            raise InvalidRule("a rule needs an end: COUNT=n or UNTIL=yyyymmdd")
        if parts.get("FREQ") not in ("DAILY", "WEEKLY", "MONTHLY", "YEARLY"):
            raise InvalidRule("a rule recurs daily at the most (FREQ=DAILY, WEEKLY, MONTHLY or YEARLY)")
        if int(parts.get("COUNT", "0")) > LONGEST_RULE:  # rrulestr has read it as a number already
            raise InvalidRule(f"COUNT={parts['COUNT']} is more than {LONGEST_RULE} occurrences")
        if parts.get("UNTIL", "")[:8] > (self.starts + timedelta(days=366 * 15)).strftime("%Y%m%d"):
            raise InvalidRule("UNTIL is more than 15 years after the start")
        return iter(rule)


def resolve(day: date, at: time, zone: tzinfo) -> Occurrence:
    """The instant the wall clock in `zone` shows `at` on `day`: the first of two in an
    overlap, the first that exists after it in a gap."""
    wall = datetime.combine(day, at)
    first = wall.replace(tzinfo=zone, fold=0)
    instant = first.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) != wall:  # the clock skips `at` this day
        return Occurrence(local_date=day, local_time=at, due_at=_gap_end(wall, zone), adjustment="moved_out_of_gap")
    second = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    repeated = second != instant
    return Occurrence(
        local_date=day,
        local_time=at,
        due_at=instant,
        adjustment="first_of_repeated" if repeated else None,
    )


def _gap_end(wall: datetime, zone: tzinfo) -> datetime:
    """The first instant after the gap that swallowed `wall`: the moment the clock jumped.

    Read with the offset after the change (fold=1) the skipped wall time lands before the
    jump, with the offset before it (fold=0) after; between the two, find the first second
    whose wall time is past `wall` (gaps last minutes or hours; Lord Howe's is 30 minutes)."""
    low = int(wall.replace(tzinfo=zone, fold=1).timestamp())
    high = int(wall.replace(tzinfo=zone, fold=0).timestamp())
    low, high = min(low, high), max(low, high)
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, UTC).astimezone(zone).replace(tzinfo=None) > wall:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)
