"""Booking: each account's rolling posting windows (X 200 per 15 min, Threads 250 a day…),
checked when a post is scheduled, against what the due index says is booked."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from domain.content import Platform
from domain.quota import Quota, QuotaExceeded, fits, next_free, quota_for
from projections.due_index import DueIndexView
from projections.runner import ProjectionRunner
from services.content_rules import ContentRules
from services.ports import Bookings

RECENT_FOR = 5.0  # seconds this process remembers its own bookings, covering the due index's lag
CATCH_UP_EVERY = 0.2  # seconds between the quota check's folds of the due index, per process
WhenFull = Literal["refuse", "move"]


class IndexBookings:
    """`Bookings` read from the due index, folded at most every `CATCH_UP_EVERY` seconds (this
    process's own latest bookings are added by `Booking` meanwhile). The runner is made on
    first use: a command that books nothing never touches the index. (An API process keeps
    the bookings in memory instead: `infrastructure/persistence/booked.py`.)"""

    def __init__(self, runner: Callable[[], ProjectionRunner], view: DueIndexView) -> None:
        self._make_runner = runner
        self._runner: ProjectionRunner | None = None
        self.view = view
        self._caught_up = 0.0
        self._lock = threading.Lock()

    def __call__(self, workspace: str, account: str, since: datetime) -> dict[UUID, datetime]:
        with self._lock:
            if self._runner is None:
                self._runner = self._make_runner()
            if time.monotonic() - self._caught_up > CATCH_UP_EVERY:
                self._runner.catch_up()
                self._caught_up = time.monotonic()
        return self.view.booked(workspace, account, since)


class Booking:
    def __init__(self, bookings: Bookings | None, rules: ContentRules) -> None:
        self.bookings = bookings  # None: no quota is checked (the due index is not wired)
        self.rules = rules
        # what this process booked lately, which the (lagging) due index may not show yet
        self._recent: dict[tuple[str, str], dict[UUID, tuple[datetime, float]]] = {}

    def quota_of(
        self, workspace: str, account: str, platform: Platform, settings: dict[str, Any] | None = None
    ) -> Quota:
        """The account's posting window: the platform's, or the account's own limit (from its
        `settings`, when they are already read)."""
        limit = (self.rules.settings_of(workspace, account) if settings is None else settings).get("quota_limit")
        return quota_for(platform, int(limit) if limit else None)

    def book_of(self, workspace: str, account: str, since: datetime) -> dict[UUID, datetime]:
        """{post id: due} of the account's booked posts: the due index's, and this process's own
        latest bookings (which the index may not have folded yet)."""
        book = dict(self.bookings(workspace, account, since)) if self.bookings else {}
        horizon = time.monotonic() - RECENT_FOR
        recent = self._recent.get((workspace, account), {})
        for post_id, (due, at) in list(recent.items()):
            if at < horizon:
                del recent[post_id]
            elif due >= since:
                book.setdefault(post_id, due)
        return book

    def remember(self, workspace: str, account: str, post_id: UUID, due: datetime | None) -> None:
        """A booking this process just saved."""
        if due is not None and self.bookings is not None:
            self._recent.setdefault((workspace, account), {})[post_id] = (due, time.monotonic())

    def fit(
        self,
        workspace: str,
        account: str,
        platform: Platform,
        due: datetime,
        when_full: WhenFull,
        settings: dict[str, Any] | None = None,
    ) -> datetime:
        """`due`, if the account's posting window has room then; else refuse, or move."""
        if self.bookings is None:
            return due
        quota = self.quota_of(workspace, account, platform, settings)
        book = list(self.book_of(workspace, account, due - quota.window).values())
        if fits(due, book, quota):
            return due
        free = next_free(due, book, quota)
        if when_full == "move":
            return free
        raise QuotaExceeded(
            f"{account} already has {quota.limit} posts on {platform.value} within "
            f"{quota.window} of {due.isoformat()}; the next free instant is {free.isoformat()} "
            "(ask to move the post there with when_full=move)",
            free,
        )
