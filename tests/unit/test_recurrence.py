"""Recurring rules against zoneinfo: over ten years of daily and weekly rules, in zones with
daylight saving, a 30-minute change (Lord Howe) and offsets changed by law (Caracas in 2007
and 2016, Moscow in 2011 and 2014), every occurrence is at its wall time, or, where the clock
skips it, at the first instant after the gap, or, where the clock repeats it, at the first
of the two; and it says which."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.recurrence import InvalidRule, Recurrence, resolve

ZONES = ["Europe/Paris", "America/New_York", "Australia/Lord_Howe", "America/Caracas", "Europe/Moscow"]
EVER = (datetime(1990, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))


def wall(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None)


@settings(max_examples=40, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    start=st.dates(min_value=date(2005, 1, 1), max_value=date(2030, 12, 31)),
    at=st.times().map(lambda t: t.replace(second=0, microsecond=0)),
    weekly=st.booleans(),
)
def test_ten_years_of_occurrences_never_drift(zone: str, start: date, at: time, weekly: bool) -> None:
    tz = ZoneInfo(zone)
    rule = Recurrence(rrule="FREQ=WEEKLY;COUNT=522" if weekly else "FREQ=DAILY;COUNT=3653", starts=start, at=at)
    found = list(rule.occurrences(tz, after=EVER[0], until=EVER[1]))
    step = timedelta(days=7 if weekly else 1)
    assert [o.local_date for o in found] == [start + n * step for n in range(len(found))]
    assert len(found) == (522 if weekly else 3653)
    for occurrence in found:
        intended = datetime.combine(occurrence.local_date, at)
        first = intended.replace(tzinfo=tz, fold=0).astimezone(UTC)
        second = intended.replace(tzinfo=tz, fold=1).astimezone(UTC)
        exists = wall(first, tz) == intended
        if not exists:  # a gap: the first instant after it
            assert occurrence.adjustment == "moved_out_of_gap"
            assert wall(occurrence.due_at, tz) > intended
            assert wall(occurrence.due_at - timedelta(seconds=1), tz) < intended
        elif first != second:  # repeated: the first of the two
            assert occurrence.adjustment == "first_of_repeated"
            assert occurrence.due_at == min(first, second) and wall(occurrence.due_at, tz) == intended
        else:
            assert occurrence.adjustment is None
            assert wall(occurrence.due_at, tz) == intended  # no drift, ever
        assert occurrence.due_at.tzinfo is UTC


def test_nine_in_paris_stays_nine_across_both_changes() -> None:
    paris = ZoneInfo("Europe/Paris")
    rule = Recurrence(rrule="FREQ=DAILY;UNTIL=20271105", starts=date(2027, 3, 20), at=time(9))
    found = list(rule.occurrences(paris, after=EVER[0], until=EVER[1]))
    assert {o.due_at.astimezone(paris).time() for o in found} == {time(9)}
    assert {o.due_at.time() for o in found} == {time(8), time(7)}  # winter, then summer, then winter


def test_the_gap_and_the_overlap_in_paris_and_on_lord_howe() -> None:
    paris, howe = ZoneInfo("Europe/Paris"), ZoneInfo("Australia/Lord_Howe")
    gap = resolve(date(2027, 3, 28), time(2, 30), paris)
    assert (gap.due_at, gap.adjustment) == (datetime(2027, 3, 28, 1, 0, tzinfo=UTC), "moved_out_of_gap")
    repeated = resolve(date(2027, 10, 31), time(2, 30), paris)
    assert (repeated.due_at, repeated.adjustment) == (datetime(2027, 10, 31, 0, 30, tzinfo=UTC), "first_of_repeated")
    half = resolve(date(2027, 10, 3), time(2, 15), howe)  # Lord Howe springs forward by 30 minutes
    assert half.due_at.astimezone(howe).time() == time(2, 30) and half.adjustment == "moved_out_of_gap"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("FREQ=DAILY", "needs an end"),
        ("FREQ=HOURLY;COUNT=3", "daily at the most"),
        ("FREQ=DAILY;COUNT=9999", "more than 5000"),
        ("FREQ=FORTNIGHTLY;COUNT=3", "not an RFC 5545 RRULE"),
        ("DTSTART:20270101T090000\nRRULE:FREQ=DAILY;COUNT=2", "without DTSTART"),
        ("FREQ=DAILY;UNTIL=20990101", "15 years"),
        ("", "without DTSTART"),
    ],
)
def test_a_rule_that_cannot_be_kept_is_refused_saying_why(text: str, says: str) -> None:
    with pytest.raises(InvalidRule) as refusal:
        Recurrence(rrule=text, starts=date(2027, 1, 1), at=time(9)).check()
    assert says in str(refusal.value) and refusal.value.code == "invalid_rrule"


def test_rrule_prefix_and_weekdays_are_understood() -> None:
    rule = Recurrence(rrule="RRULE:FREQ=WEEKLY;BYDAY=MO,WE,FR;COUNT=6", starts=date(2027, 1, 4), at=time(17))
    days = [o.local_date.strftime("%a") for o in rule.occurrences(ZoneInfo("UTC"), after=EVER[0], until=EVER[1])]
    assert days == ["Mon", "Wed", "Fri", "Mon", "Wed", "Fri"]
