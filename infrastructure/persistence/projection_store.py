"""Where projections keep their rows and positions: their tables and a tracking row each, in
the read store, fed from the events table. A batch's rows and its new position are written in
one transaction, the position moving by compare-and-set.

One event a projection cannot fold never stops it: the batch is folded again one event at a
time, and the event that fails is set aside in `projection_quarantine` (with the error) while
the position moves past it, in one transaction. The alarm is a log line and a count on
`herald projections status`; `herald projections retry-quarantined` tries again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from eventsourcing.persistence import Mapper

from infrastructure.persistence import due_index, engagement, post_list, stats, timeline, webhook_outbox
from infrastructure.persistence.connections import Cursor, ReadStore
from infrastructure.persistence.facts import fact_of, read_facts
from projections.facts import Fact
from projections.runner import Keep, Projection

log = logging.getLogger("herald.projections")

TRACKING = "projection_tracking"
QUARANTINE = "projection_quarantine"
# each projection's tables (create) and the writer its fold writes through, by name
TABLES: dict[str, tuple[Callable[[Cursor, str], None], Callable[[Cursor, str], Any]]] = {
    "due_index": (due_index.create, due_index.DueIndexWriter),
    "timeline": (timeline.create, timeline.TimelineWriter),
    "stats": (stats.create, stats.StatsWriter),
    "post_list": (post_list.create, post_list.PostListWriter),
    "engagement": (engagement.create, engagement.EngagementWriter),
    "webhooks": (webhook_outbox.create, webhook_outbox.OutboxWriter),
}


# projections whose rows each belong to one aggregate: an event is retried by folding that
# aggregate's whole history again (its rows dropped first), so its rows come out as a replay's
PER_AGGREGATE = {
    "due_index": ("due_index", "post_id"),
    "post_list": ("post_list", "post_id"),
    "timeline": ("timeline", "post_id"),
}


@dataclass(frozen=True)
class Quarantined:
    projection: str
    position: int
    aggregate_id: str
    event: str
    error: str
    at: str


def ensure_tracking(cursor: Cursor, name: str, position: int = 0) -> None:
    cursor.execute(f"CREATE TABLE IF NOT EXISTS {TRACKING} (name TEXT PRIMARY KEY, position BIGINT NOT NULL)")
    cursor.execute(
        f"CREATE TABLE IF NOT EXISTS {QUARANTINE} (projection TEXT NOT NULL, position BIGINT NOT NULL,"
        " aggregate_id TEXT NOT NULL, event TEXT NOT NULL, error TEXT NOT NULL, at TEXT NOT NULL,"
        " PRIMARY KEY (projection, position))"
    )
    cursor.execute(
        f"INSERT INTO {TRACKING} (name, position) VALUES (%s, %s) ON CONFLICT (name) DO NOTHING",
        [name, position],
    )


class SqlProjectionStore:
    def __init__(self, store: ReadStore, mapper: Mapper[Any]) -> None:
        self.store = store
        self.mapper = mapper

    def create(self, projection: Projection, suffix: str = "") -> None:
        with self.store.creating() as cursor:
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
        chosen = facts if keep is None else [fact for fact in facts if keep(fact)]
        try:
            return self._write(projection, suffix, position, facts[-1].position, chosen)
        except Exception:
            if len(facts) == 1:
                return self._quarantine(projection, suffix, position, facts[0])
            log.warning(
                "%s could not fold events %s..%s; folding them one by one",
                projection.name,
                facts[0].position,
                facts[-1].position,
            )
        for fact in facts:  # one at a time: the event that fails is set aside, the rest go on
            try:
                moved = self._write(projection, suffix, position, fact.position, [fact] if fact in chosen else [])
            except Exception:
                moved = self._quarantine(projection, suffix, position, fact)
            if not moved:
                return False  # another runner moved the position meanwhile: it goes on from there
            position = fact.position
        return True

    def _write(self, projection: Projection, suffix: str, position: int, to: int, facts: Sequence[Fact]) -> bool:
        damaged = next((fact.problem for fact in facts if fact.problem), None)
        if damaged:
            raise ValueError(damaged)  # its batch is folded one by one, and this event set aside
        with self.store.transaction() as cursor:
            if not self._move(cursor, projection.name + suffix, position, to):
                return False
            projection.apply(TABLES[projection.name][1](cursor, suffix), facts)
        return True

    @staticmethod
    def _move(cursor: Cursor, tracking_name: str, position: int, to: int) -> bool:
        cursor.execute(
            f"UPDATE {TRACKING} SET position = %s WHERE name = %s AND position = %s", [to, tracking_name, position]
        )
        return bool(cursor.rowcount == 1)

    def _quarantine(self, projection: Projection, suffix: str, position: int, fact: Fact) -> bool:
        """Set one event aside, with the error its fold raised, and move past it."""
        try:
            self._write(projection, suffix, position, fact.position, [fact])
            return True  # it folds on its own after all
        except Exception as problem:
            error = f"{type(problem).__name__}: {problem}".splitlines()[0][:1000]
        log.error(
            "ALARM: %s cannot fold event %s (%s of %s): %s; it is set aside in %s",
            projection.name,
            fact.position,
            fact.name,
            fact.aggregate_id,
            error,
            QUARANTINE,
        )
        with self.store.transaction() as cursor:
            if not self._move(cursor, projection.name + suffix, position, fact.position):
                return False
            cursor.execute(
                f"INSERT INTO {QUARANTINE} (projection, position, aggregate_id, event, error, at)"
                " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (projection, position) DO NOTHING",
                [
                    projection.name + suffix,
                    fact.position,
                    fact.aggregate_id,
                    fact.name,
                    error,
                    datetime.now(UTC).isoformat(),
                ],
            )
        return True

    def positions(self) -> dict[str, int]:
        """Every projection's tracking position, by name."""
        with self.store.reading() as cursor:
            cursor.execute(f"SELECT name, position FROM {TRACKING} ORDER BY name")
            return {name: int(position) for name, position in cursor.fetchall()}

    def quarantined(self, projection: str | None = None) -> list[Quarantined]:
        clause, params = ("", []) if projection is None else (" WHERE projection = %s", [projection])
        with self.store.reading() as cursor:
            cursor.execute(
                "SELECT projection, position, aggregate_id, event, error, at"
                f" FROM {QUARANTINE}{clause} ORDER BY position",
                params,
            )
            return [Quarantined(*row) for row in cursor.fetchall()]

    def retry(self, projection: Projection, item: Quarantined) -> str | None:
        """Fold a set-aside event again; None when it folds (and leaves the quarantine), else
        the error. Where each row belongs to one aggregate, its whole history is folded again."""
        per_aggregate = PER_AGGREGATE.get(projection.name)
        try:
            with self.store.transaction() as cursor:
                writer = TABLES[projection.name][1](cursor, "")
                if per_aggregate is None:
                    facts = [f for f in self._facts_of(cursor, item.aggregate_id) if f.position == item.position]
                else:
                    table, key = per_aggregate
                    cursor.execute(f"DELETE FROM {table} WHERE {key} = %s", [item.aggregate_id])
                    facts = self._facts_of(cursor, item.aggregate_id)
                projection.apply(writer, facts)
                cursor.execute(
                    f"DELETE FROM {QUARANTINE} WHERE projection = %s AND position = %s",
                    [item.projection, item.position],
                )
        except Exception as problem:
            return f"{type(problem).__name__}: {problem}".splitlines()[0]
        return None

    def _facts_of(self, cursor: Cursor, aggregate_id: str) -> list[Fact]:
        """Every event of one aggregate, oldest first, as facts."""
        if self.store.dialect == "postgres":
            cursor.execute(
                "SELECT notification_id, originator_id::text, originator_version, topic, state FROM herald_events"
                " WHERE originator_id = %s ORDER BY originator_version",
                [aggregate_id],
            )
        else:
            cursor.execute(
                "SELECT rowid, originator_id, originator_version, topic, state FROM stored_events"
                " WHERE originator_id = %s ORDER BY originator_version",
                [aggregate_id.replace("-", "")],
            )
        return [fact_of(self.mapper, *row) for row in cursor.fetchall()]
