"""Replay: rebuild a projection from event 0 into fresh tables, then swap them in.

The live projection keeps running meanwhile: the replay writes `<table>_replay` and its own
tracking row. The swap is one transaction that replaces the live tables and moves the live
position to where the replay stopped; the live runner then carries on from there. With
`until`, only events that happened at or before that instant are folded, and the result is
kept beside the live tables as `<table>_asof` instead of replacing them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from eventsourcing.application import Application

from projections.due_index import instant
from projections.read_store import Cursor, ReadStore, index_names
from projections.runner import TRACKING, Projection, ProjectionRunner

REPLAY = "_replay"


def replay(
    app: Application[Any],
    store: ReadStore,
    projection: Projection,
    *,
    until: datetime | None = None,
    batch_size: int = 5000,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> int:
    """Rebuild `projection`; return the number of events read. `progress(read, total)` is called per batch."""
    with store.transaction() as cursor:
        _drop(cursor, projection, REPLAY)
        cursor.execute(f"DELETE FROM {TRACKING} WHERE name = %s", [projection.name + REPLAY])
    runner = ProjectionRunner(app, store, projection, batch_size=batch_size, suffix=REPLAY)
    total = app.recorder.max_notification_id() or 0
    limit = instant(until)
    keep = None if limit is None else (lambda fact: fact.at <= limit)
    read = 0
    position = 0
    while position < total:
        facts = runner.read(position)
        if not facts:
            break
        runner.write(position, facts, keep)
        position = facts[-1].position
        read += len(facts)
        progress(read, total)
    with store.transaction() as cursor:
        if until is None:
            _drop(cursor, projection, "")
            _rename(store, cursor, projection, REPLAY, "")
            cursor.execute(f"UPDATE {TRACKING} SET position = %s WHERE name = %s", [position, projection.name])
        else:
            _drop(cursor, projection, "_asof")
            _rename(store, cursor, projection, REPLAY, "_asof")
        cursor.execute(f"DELETE FROM {TRACKING} WHERE name = %s", [projection.name + REPLAY])
    return read


def _rename(store: ReadStore, cursor: Cursor, projection: Projection, old: str, new: str) -> None:
    """Rename the tables and their indexes (index names are global to the schema)."""
    for table in projection.tables:
        cursor.execute(f"ALTER TABLE {table}{old} RENAME TO {table}{new}")
        for index in index_names(store, cursor, table + new):
            if index.startswith(table + old) and old:
                renamed = table + new + index[len(table + old) :]
                if store.dialect == "postgres":
                    cursor.execute(f"ALTER INDEX {index} RENAME TO {renamed}")
                else:
                    cursor.execute(f"DROP INDEX {index}")
    projection.create(cursor, new)  # recreates any index the rename dropped


def _drop(cursor: Cursor, projection: Projection, suffix: str) -> None:
    for table in projection.tables:
        cursor.execute(f"DROP TABLE IF EXISTS {table}{suffix}")
