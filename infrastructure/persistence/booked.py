"""The quota check's bookings from a view kept in this process (`projections/booked.py`).

An API process checks the quota of every post it schedules. Instead of a query of the due
index per post (and a fold of that shared index every 0.2 s to keep it current), it loads the
booked posts once and folds the log's new events into memory as the log's tail hands them on
(`log_tail.py`: at most every 0.2 s), which is as current as the index it read before. Posts
a later event names that the view does not hold (a draft being scheduled) are read from the
due index in one query per batch.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from uuid import UUID

from infrastructure.persistence.connections import ReadStore
from infrastructure.persistence.log_tail import LogTail
from projections.booked import BookedView, Row
from projections.due_index import BOOKED
from projections.facts import Fact, utc_text
from services.ports import Clock

LOOKS_BACK = timedelta(days=2)  # further back than any quota's window (the longest is a day)
FORGET_EVERY = 60.0  # seconds between lettings-go of posts no check can reach
LOOKUP = 500  # posts per look-up query
ROWS = "SELECT post_id, workspace, account, state, due_at, version FROM due_index"


class KeptBookings:
    def __init__(self, store: ReadStore, tail: LogTail, clock: Clock) -> None:
        self.store = store
        self.tail = tail
        self.clock = clock
        self.view = BookedView()
        self._forgot = time.monotonic()
        tail.follow(self._fold, start=self._load)

    def __call__(self, workspace: str, account: str, since: datetime) -> dict[UUID, datetime]:
        with self.tail.lock:
            self.tail.current()
            if time.monotonic() - self._forgot > FORGET_EVERY:
                self.view.forget(str(utc_text(self.clock() - LOOKS_BACK)))
                self._forgot = time.monotonic()
            found = self.view.booked(workspace, account, str(utc_text(since)))
        return {UUID(post_id): datetime.fromisoformat(due) for post_id, due in found.items()}

    def _fold(self, facts: Sequence[Fact]) -> None:
        self.view.load(self._rows(self.view.unknown(facts)))
        self.view.fold(facts)

    def _load(self) -> None:
        """The booked posts as the due index holds them, where the tail begins (it read the
        index's position first, so the rows are at least as new: a post's version keeps a
        newer row's events from being folded twice)."""
        marks = ", ".join(["%s"] * len(BOOKED))
        with self.store.reading() as cursor:
            cursor.execute(
                f"{ROWS} WHERE state IN ({marks}) AND due_at >= %s",
                [*BOOKED, utc_text(self.clock() - LOOKS_BACK)],
            )
            self.view.load(_row(found) for found in cursor.fetchall())

    def _rows(self, post_ids: list[str]) -> list[Row]:
        rows: list[Row] = []
        for start in range(0, len(post_ids), LOOKUP):
            chunk = post_ids[start : start + LOOKUP]
            with self.store.reading() as cursor:
                cursor.execute(
                    f"{ROWS} WHERE post_id IN ({', '.join(['%s'] * len(chunk))})",
                    chunk,
                )
                rows += [_row(found) for found in cursor.fetchall()]
        return rows


def _row(found: tuple[object, ...]) -> Row:
    post_id, workspace, account, state, due_at, version = found
    return str(post_id), str(workspace), str(account), _text(state), _text(due_at), int(str(version or 0))


def _text(value: object) -> str | None:
    return None if value is None else str(value)
