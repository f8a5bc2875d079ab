"""Runs projections: reads the notification log after its tracking position, folds a batch,
and writes the rows and the new position in one transaction, so each event counts once.

Several processes may run the same projection: the position moves by compare-and-set, and a
runner that finds it moved by someone else rolls back and reads on from there.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from eventsourcing.application import Application

from projections.read_store import Cursor, ReadStore

TRACKING = "projection_tracking"


class Projection(Protocol):
    name: str

    def create(self, cursor: Cursor) -> None: ...
    def apply(self, cursor: Cursor, events: Sequence[Any]) -> None: ...


class ProjectionRunner:
    def __init__(
        self, app: Application[Any], store: ReadStore, projection: Projection, batch_size: int = 500
    ) -> None:
        self.app = app
        self.store = store
        self.projection = projection
        self.batch_size = batch_size
        with store.transaction() as cursor:
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {TRACKING} (name TEXT PRIMARY KEY, position BIGINT NOT NULL)"
            )
            cursor.execute(
                f"INSERT INTO {TRACKING} (name, position) VALUES (%s, 0) ON CONFLICT (name) DO NOTHING",
                [projection.name],
            )
            projection.create(cursor)

    def position(self) -> int:
        with self.store.transaction() as cursor:
            cursor.execute(f"SELECT position FROM {TRACKING} WHERE name = %s", [self.projection.name])
            return int(cursor.fetchone()[0])

    def run_once(self) -> int:
        """Apply at most one batch; return how many events it applied (0: caught up)."""
        while True:
            position = self.position()
            notifications = self.app.recorder.select_notifications(
                start=position, limit=self.batch_size, inclusive_of_start=False
            )
            if not notifications:
                return 0
            events = [self.app.mapper.to_domain_event(n) for n in notifications]
            with self.store.transaction() as cursor:
                cursor.execute(
                    f"UPDATE {TRACKING} SET position = %s WHERE name = %s AND position = %s",
                    [notifications[-1].id, self.projection.name, position],
                )
                if cursor.rowcount == 1:
                    self.projection.apply(cursor, events)
                    return len(events)
            # another runner applied this batch first: read on from where it left off

    def catch_up(self) -> int:
        """Apply batches until the log has nothing new; return the events applied."""
        total = 0
        while applied := self.run_once():
            total += applied
        return total
