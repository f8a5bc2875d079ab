"""Runs projections: reads the notification log after its tracking position, folds a batch,
and writes the rows and the new position in one transaction, so each event counts once.

Several processes may run the same projection: the position moves by compare-and-set, and a
runner that finds it moved by someone else rolls back and reads on from there.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from eventsourcing.application import Application

from projections.facts import Fact, read_facts
from projections.read_store import Cursor, ReadStore

TRACKING = "projection_tracking"


class Projection(Protocol):
    name: str
    tables: tuple[str, ...]

    def create(self, cursor: Cursor, suffix: str = "") -> None: ...
    def apply(self, cursor: Cursor, facts: Sequence[Fact], suffix: str = "") -> None: ...


def ensure_tracking(cursor: Cursor, name: str, position: int = 0) -> None:
    cursor.execute(f"CREATE TABLE IF NOT EXISTS {TRACKING} (name TEXT PRIMARY KEY, position BIGINT NOT NULL)")
    cursor.execute(
        f"INSERT INTO {TRACKING} (name, position) VALUES (%s, %s) ON CONFLICT (name) DO NOTHING",
        [name, position],
    )


class ProjectionRunner:
    def __init__(
        self,
        app: Application[Any],
        store: ReadStore,
        projection: Projection,
        batch_size: int = 1000,
        suffix: str = "",
    ) -> None:
        self.app = app
        self.store = store
        self.projection = projection
        self.batch_size = batch_size
        self.suffix = suffix
        self.tracking_name = projection.name + suffix
        with store.transaction() as cursor:
            ensure_tracking(cursor, self.tracking_name)
            projection.create(cursor, suffix)

    def _position(self, cursor: Cursor) -> int:
        cursor.execute(f"SELECT position FROM {TRACKING} WHERE name = %s", [self.tracking_name])
        return int(cursor.fetchone()[0])

    def read(self, position: int) -> list[Fact]:
        with self.store.reading() as cursor:
            return self._read(cursor, position)

    def _read(self, cursor: Cursor, position: int) -> list[Fact]:
        return read_facts(cursor, self.store.dialect, self.app.mapper, position, self.batch_size)

    def run_once(self) -> int:
        """Apply at most one batch; return how many events it read (0: caught up)."""
        while True:
            # two plain reads: the write's compare-and-set on the position keeps them honest
            with self.store.reading() as cursor:
                position = self._position(cursor)
                facts = self._read(cursor, position)
            if not facts:
                return 0
            if self.write(position, facts):
                return len(facts)
            # another runner applied this batch first: read on from where it left off

    def write(self, position: int, facts: Sequence[Fact], keep: Any = None) -> bool:
        """Fold `facts` (those `keep` accepts) and move the position past them, atomically."""
        with self.store.transaction() as cursor:
            cursor.execute(
                f"UPDATE {TRACKING} SET position = %s WHERE name = %s AND position = %s",
                [facts[-1].position, self.tracking_name, position],
            )
            if cursor.rowcount != 1:
                return False
            chosen = facts if keep is None else [fact for fact in facts if keep(fact)]
            self.projection.apply(cursor, chosen, self.suffix)
        return True

    def catch_up(self) -> int:
        """Apply batches until the log has nothing new; return the events read."""
        total = 0
        while applied := self.run_once():
            total += applied
            if applied < self.batch_size:
                break  # a short batch: the log held nothing more when it was read
        return total
