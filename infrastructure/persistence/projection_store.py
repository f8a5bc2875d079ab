"""Where projections keep their rows and positions: their tables and a tracking row each, in
the read store, fed from the events table. A batch's rows and its new position are written in
one transaction, the position moving by compare-and-set."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from eventsourcing.persistence import Mapper

from infrastructure.persistence import due_index, post_list, stats, timeline, webhook_outbox
from infrastructure.persistence.connections import Cursor, ReadStore
from infrastructure.persistence.facts import read_facts
from projections.facts import Fact
from projections.runner import Keep, Projection

TRACKING = "projection_tracking"
# each projection's tables (create) and the writer its fold writes through, by name
TABLES: dict[str, tuple[Callable[[Cursor, str], None], Callable[[Cursor, str], Any]]] = {
    "due_index": (due_index.create, due_index.DueIndexWriter),
    "timeline": (timeline.create, timeline.TimelineWriter),
    "stats": (stats.create, stats.StatsWriter),
    "post_list": (post_list.create, post_list.PostListWriter),
    "webhooks": (webhook_outbox.create, webhook_outbox.OutboxWriter),
}


def ensure_tracking(cursor: Cursor, name: str, position: int = 0) -> None:
    cursor.execute(f"CREATE TABLE IF NOT EXISTS {TRACKING} (name TEXT PRIMARY KEY, position BIGINT NOT NULL)")
    cursor.execute(
        f"INSERT INTO {TRACKING} (name, position) VALUES (%s, %s) ON CONFLICT (name) DO NOTHING",
        [name, position],
    )


class SqlProjectionStore:
    def __init__(self, store: ReadStore, mapper: Mapper[Any]) -> None:
        self.store = store
        self.mapper = mapper

    def create(self, projection: Projection, suffix: str = "") -> None:
        with self.store.transaction() as cursor:
            ensure_tracking(cursor, projection.name + suffix)
            self.create_tables(cursor, projection, suffix)

    @staticmethod
    def create_tables(cursor: Cursor, projection: Projection, suffix: str) -> None:
        TABLES[projection.name][0](cursor, suffix)

    def position(self, tracking_name: str) -> int:
        with self.store.reading() as cursor:
            cursor.execute(f"SELECT position FROM {TRACKING} WHERE name = %s", [tracking_name])
            found = cursor.fetchone()
        return int(found[0]) if found else 0

    def last_position(self) -> int:
        """The newest event's position in the log (0 when it is empty)."""
        table, column = (
            ("herald_events", "notification_id") if self.store.dialect == "postgres" else ("stored_events", "rowid")
        )
        with self.store.reading() as cursor:
            cursor.execute(f"SELECT max({column}) FROM {table}")
            found = cursor.fetchone()
        return int(found[0] or 0) if found else 0

    def read(self, after: int, limit: int) -> list[Fact]:
        with self.store.reading() as cursor:
            return read_facts(cursor, self.store.dialect, self.mapper, after, limit)

    def write(
        self, projection: Projection, suffix: str, position: int, facts: Sequence[Fact], keep: Keep | None = None
    ) -> bool:
        with self.store.transaction() as cursor:
            cursor.execute(
                f"UPDATE {TRACKING} SET position = %s WHERE name = %s AND position = %s",
                [facts[-1].position, projection.name + suffix, position],
            )
            if cursor.rowcount != 1:
                return False
            chosen = facts if keep is None else [fact for fact in facts if keep(fact)]
            projection.apply(TABLES[projection.name][1](cursor, suffix), chosen)
        return True
