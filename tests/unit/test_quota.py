"""Rolling posting windows (hypothesis for the pure quota functions)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from domain.quota import Quota, fits, next_free

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
QUOTA = Quota(limit=3, window=timedelta(minutes=15))

offsets = st.lists(st.integers(min_value=0, max_value=3600), max_size=12)


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def worst_window(times: list[datetime], window: timedelta) -> int:
    """Brute force: the most posts any window of this length holds."""
    return max((sum(1 for t in times if s <= t < s + window) for s in times), default=0)


def test_a_full_window_refuses_and_names_the_next_free_instant() -> None:
    booked = [at(0), at(60), at(120)]
    assert not fits(at(300), booked, QUOTA)
    assert next_free(at(300), booked, QUOTA) == at(0) + QUOTA.window
    assert fits(at(0) + QUOTA.window, booked, QUOTA)


@given(offsets, st.integers(min_value=0, max_value=3600))
def test_next_free_never_overbooks_and_is_the_earliest(booked_s: list[int], wanted_s: int) -> None:
    booked = [at(s) for s in booked_s]
    if worst_window(booked, QUOTA.window) > QUOTA.limit:
        return  # start from a legal book
    found = next_free(at(wanted_s), booked, QUOTA)
    assert found >= at(wanted_s)
    assert worst_window([*booked, found], QUOTA.window) <= QUOTA.limit
    if found > at(wanted_s):
        assert not fits(at(wanted_s), booked, QUOTA)
