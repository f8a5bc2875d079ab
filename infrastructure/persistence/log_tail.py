"""The log's new events, read by a long-lived process at most every 0.2 s for all it keeps.

An API process keeps copies in memory instead of asking the store on every request: the posts
booked on each account (the quota check, `booked.py`), the accounts it has read, and which
accounts have no queue. Each must learn of the changes other processes make. One reader
follows the log's tail for all of them and hands each new event to every follower, so a copy
is as current as the tail: 0.2 s behind at most, as the quota check's index read was before.

The tail begins where the due index stands, since the booked view is loaded from that index
(a follower's `start` runs then, before any event is handed on). `SeenVersions` is the
`Seen` port (`services/ports.py`) the account and queue services ask.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from uuid import UUID

from infrastructure.persistence.projection_store import SqlProjectionStore
from projections.due_index import DueIndex
from projections.facts import Fact
from services.booking import CATCH_UP_EVERY

BATCH = 1000  # events per read of the log
Follower = Callable[[Sequence[Fact]], None]


class LogTail:
    def __init__(self, log: SqlProjectionStore, every: float = CATCH_UP_EVERY) -> None:
        self.log = log
        self.every = every
        self.position: int | None = None
        self.lock = threading.RLock()  # held by a follower's reader, so no fold runs under it
        self._followers: list[Follower] = []
        self._starts: list[Callable[[], None]] = []
        self._read_at = float("-inf")  # never read: the first `current` reads, whatever the uptime

    def follow(self, follower: Follower, start: Callable[[], None] | None = None) -> None:
        """Hand `follower` every event from the tail's beginning on; `start` runs at that beginning."""
        with self.lock:
            if self.position is not None:
                raise RuntimeError("a follower joins before the tail begins, or it would miss events")
            self._followers.append(follower)
            if start is not None:
                self._starts.append(start)

    def begin(self) -> None:
        """Fix where the tail begins (once): the due index's position, read before the
        followers load what they hold, so what they load is at least that new."""
        with self.lock:
            if self.position is None:
                self.log.create(DueIndex())  # a store no projection has run on yet: its tables, empty
                position = self.log.position(DueIndex.name)
                for start in self._starts:
                    start()
                self.position = position

    def current(self) -> None:
        """Read what the log gained, unless the last read is under `every` seconds old."""
        with self.lock:
            self.begin()
            if time.monotonic() - self._read_at <= self.every:
                return
            while facts := self.log.read(self.position or 0, BATCH):
                for follower in self._followers:
                    follower(facts)
                self.position = facts[-1].position
                if len(facts) < BATCH:
                    break
            self._read_at = time.monotonic()


class SeenVersions:
    """`Seen`: the newest version the tail has passed of each aggregate of `kinds`."""

    def __init__(self, tail: LogTail, kinds: Sequence[str], most: int = 100_000) -> None:
        self.tail = tail
        self.kinds = frozenset(kinds)
        self.most = most
        self.newest: dict[str, int] = {}
        self.generation = 0  # marks of an earlier generation are void: what they relied on was let go
        tail.follow(self._passed)

    def mark(self) -> int:
        self.tail.begin()
        return self.generation

    def unchanged(self, aggregate_id: UUID, version: int, mark: int | None) -> bool:
        with self.tail.lock:
            self.tail.current()
            return mark == self.generation and self.newest.get(str(aggregate_id), 0) <= version

    def _passed(self, facts: Sequence[Fact]) -> None:
        for fact in facts:
            if fact.aggregate in self.kinds and fact.version > self.newest.get(fact.aggregate_id, 0):
                self.newest[fact.aggregate_id] = fact.version
        if len(self.newest) > self.most:
            self.newest.clear()
            self.generation += 1
