"""The engagement aggregate's rules and the best-windows fold (hypothesis for the fold)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.engagement import CHECKPOINTS, Counts, Engagement, best_windows, due_checkpoints, engagement_id, missed
from domain.errors import InvalidTransition

DELIVERED = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def tracked() -> Engagement:
    post_id = uuid.uuid4()
    made = Engagement.start(
        post_id=post_id,
        workspace="w",
        account="acme",
        platform="x",
        remote_id="1",
        delivered_at=DELIVERED,
        now=DELIVERED,
    )
    assert made.id == engagement_id(post_id)  # derived: two fetchers make the same aggregate
    return made


def test_checkpoints_fall_due_in_order_and_are_late_after_an_hour() -> None:
    assert due_checkpoints(DELIVERED, [], DELIVERED + timedelta(minutes=59)) == []
    assert due_checkpoints(DELIVERED, [], DELIVERED + timedelta(hours=25)) == ["1h", "24h"]
    assert due_checkpoints(DELIVERED, ["1h"], DELIVERED + timedelta(days=8)) == ["24h", "7d"]
    assert not missed(DELIVERED, "1h", DELIVERED + timedelta(hours=2))
    assert missed(DELIVERED, "1h", DELIVERED + timedelta(hours=2, seconds=1))


def test_a_checkpoint_is_measured_once_when_due_with_counts_or_a_reason() -> None:
    engagement = tracked()
    counts = Counts(likes=3, reposts=1, replies=0)
    with pytest.raises(InvalidTransition, match="not due"):
        engagement.measure("1h", counts, unavailable=None, now=DELIVERED + timedelta(minutes=30))
    engagement.measure("1h", counts, unavailable=None, now=DELIVERED + timedelta(hours=1))
    with pytest.raises(InvalidTransition, match="recorded already"):
        engagement.measure("1h", counts, unavailable=None, now=DELIVERED + timedelta(hours=1))
    with pytest.raises(InvalidTransition, match="says why"):
        engagement.measure("24h", None, unavailable=None, now=DELIVERED + timedelta(days=1))
    with pytest.raises(InvalidTransition, match="not a checkpoint"):
        engagement.measure("2h", counts, unavailable=None, now=DELIVERED + timedelta(days=1))
    engagement.measure(
        "24h", None, unavailable="the post is no longer on the platform", now=DELIVERED + timedelta(days=1)
    )
    assert engagement.measured == {"1h": counts, "24h": None} and set(CHECKPOINTS) == {"1h", "24h", "7d"}


instants = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC))


@given(st.lists(st.tuples(instants, st.integers(min_value=0, max_value=10_000)), max_size=60))
def test_best_windows_are_the_mean_by_local_weekday_and_hour(samples: list[tuple[datetime, int]]) -> None:
    zone = ZoneInfo("Europe/Paris")
    grid = best_windows(samples, zone)
    assert len(grid) == 7 and all(len(row) == 24 for row in grid)
    for day in range(7):
        for hour in range(24):
            here = [n for at, n in samples if (at.astimezone(zone).weekday(), at.astimezone(zone).hour) == (day, hour)]
            assert grid[day][hour] == (sum(here) / len(here) if here else None)
