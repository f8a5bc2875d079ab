"""The quota check's bookings from a view kept in this process (`projections/booked.py`).

An API process checks the quota of every post it schedules. Instead of a query of the due
index per post (and a fold of that shared index every 0.2 s to keep it current), it loads the
booked posts once and folds the log's new events into memory at most every 0.2 s, which is
as current as the index it read before. Posts a later event names that the view does not
hold (a draft being scheduled) are read from the due index in one query per batch.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from uuid import UUID

from infrastructure.persistence.connections import ReadStore
from infrastructure.persistence.projection_store import SqlProjectionStore
from projections.booked import BookedView, Row
from projections.due_index import BOOKED, DueIndex
from projections.facts import utc_text
from services.booking import CATCH_UP_EVERY
from services.ports import Clock

LOOKS_BACK = timedelta(days=2)  # further back than any quota's window (the longest is a day)
FORGET_EVERY = 60.0  # seconds between lettings-go of posts no check can reach
LOOKUP = 500  # posts per look-up query
BATCH = 1000  # events per read of the log
ROWS = "SELECT post_id, workspace, account, state, due_at, version FROM due_index"


class KeptBookings:
    def __init__(self, store: ReadStore, log: SqlProjectionStore, clock: Clock, every: float = CATCH_UP_EVERY) -> None:
        self.store = store
        self.log = log
        self.clock = clock
        self.every = every
        self.view: BookedView | None = None
        self.position = 0
        self._caught_up = 0.0
        self._forgot = 0.0
        self._lock = threading.Lock()

    def __call__(self, workspace: str, account: str, since: datetime) -> dict[UUID, datetime]:
        with self._lock:
            view = self._current()
            found = view.booked(workspace, account, str(utc_text(since)))
        return {UUID(post_id): datetime.fromisoformat(due) for post_id, due in found.items()}

    def _current(self) -> BookedView:
        view = self.view
        if view is None:
            view = self.view = self._loaded()
        elif time.monotonic() - self._caught_up <= self.every:
            return view
        while facts := self.log.read(self.position, BATCH):
            view.load(self._rows(view.unknown(facts)))
            view.fold(facts)
            self.position = facts[-1].position
            if len(facts) < BATCH:
                break
        self._caught_up = time.monotonic()
        if self._caught_up - self._forgot > FORGET_EVERY:
            view.forget(str(utc_text(self.clock() - LOOKS_BACK)))
            self._forgot = self._caught_up
        return view

    def _loaded(self) -> BookedView:
        """The booked posts as the due index holds them, and the position to fold on from:
        read first, so the rows are at least as new (a post's version keeps a newer row's
        events from being folded twice)."""
        self.position = self.log.position(DueIndex.name)
        marks = ", ".join(["%s"] * len(BOOKED))
        view = BookedView()
        with self.store.reading() as cursor:
            cursor.execute(
                f"{ROWS} WHERE state IN ({marks}) AND due_at >= %s",
                [*BOOKED, utc_text(self.clock() - LOOKS_BACK)],
            )
            view.load(_row(found) for found in cursor.fetchall())
        self._forgot = time.monotonic()
        return view

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
