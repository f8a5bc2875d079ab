"""Posting quotas: rolling windows per account (X 200 per 15 min, Threads 250 per 24 h…).

Pure: the instants already booked for the account come in as an argument. A post fits at `t`
when every window of the quota's length that contains `t` holds fewer than the limit.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from datetime import datetime, timedelta

from domain.base import Immutable
from domain.content import Platform
from domain.errors import HeraldError

QUOTAS: dict[Platform, tuple[int, timedelta]] = {
    Platform.X: (200, timedelta(minutes=15)),
    Platform.MASTODON: (300, timedelta(minutes=5)),
    Platform.BLUESKY: (1666, timedelta(hours=1)),  # 5,000 points an hour at 3 points a post
    Platform.LINKEDIN: (150, timedelta(days=1)),
    Platform.THREADS: (250, timedelta(days=1)),
    Platform.INSTAGRAM: (100, timedelta(days=1)),  # the account's content_publishing_limit is read before claims
    Platform.FACEBOOK: (1000, timedelta(days=1)),  # Pages have no posting quota; a guard against floods
}


class Quota(Immutable):
    limit: int
    window: timedelta


class QuotaExceeded(HeraldError):
    code = "quota_exceeded"
    field = "scheduled_at"

    def __init__(self, message: str, next_free: datetime) -> None:
        super().__init__(message)
        self.next_free = next_free


def quota_for(platform: Platform, limit: int | None = None) -> Quota:
    count, window = QUOTAS[platform]
    return Quota(limit=limit or count, window=window)


def fits(at: datetime, booked: Sequence[datetime], quota: Quota) -> bool:
    """True when a post at `at` keeps every window containing it under the limit."""
    times = sorted(booked)
    tick = timedelta(microseconds=1)
    # the windows [s, s + window) holding `at` start in (at - window, at]; the fullest ones
    # start at `at`, at a booked post, or just where a later booked post comes into view
    starts = [at - quota.window + tick, at]
    starts += [t for t in times if at - quota.window < t <= at]
    starts += [t - quota.window + tick for t in times if at < t < at + quota.window]
    for start in starts:
        end = start + quota.window
        inside = bisect_left(times, end) - bisect_left(times, start)
        if inside + 1 > quota.limit:
            return False
    return True


def next_free(at: datetime, booked: Sequence[datetime], quota: Quota) -> datetime:
    """The earliest instant at or after `at` where a post fits."""
    candidates = [at, *(t + quota.window for t in sorted(booked) if t + quota.window > at)]
    for candidate in sorted(candidates):
        if fits(candidate, booked, quota):
            return candidate
    raise AssertionError("the last booked instant plus a window always fits")  # pragma: no cover
