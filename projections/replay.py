"""Replay: rebuild a projection from event 0 into fresh tables, then swap them in.

The live projection keeps running meanwhile: the replay writes `<table>_replay` and its own
tracking row. The swap is one transaction that replaces the live tables and moves the live
position to where the replay stopped; the live runner then carries on from there. With
`until`, only events that happened at or before that instant are folded, and the result is
kept beside the live tables as `<table>_asof` instead of replacing them.
"""

from __future__ import annotations

import queue
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import datetime
from typing import Any

from eventsourcing.application import Application

from projections.due_index import instant
from projections.postgres_fold import CHUNKS, can_fold, fold
from projections.read_store import Cursor, PostgresReadStore, ReadStore, drop_indexes, index_names
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
    connections: int = 2,
) -> int:
    """Rebuild `projection`; return the number of events read. `progress(read, total)` is called per batch.

    On PostgreSQL the due index and the timeline are folded by the database itself
    (`postgres_fold`), on `connections` connections at once; elsewhere, and for the other
    projections, batch by batch in Python."""
    with store.transaction() as cursor:
        _drop(cursor, projection, REPLAY)
        cursor.execute(f"DELETE FROM {TRACKING} WHERE name = %s", [projection.name + REPLAY])
    total = app.recorder.max_notification_id() or 0
    if isinstance(store, PostgresReadStore) and can_fold(projection.name, app.mapper):
        read, position = _fold_in_database(store, projection, total, until, progress, connections)
    else:
        read, position = _fold_in_python(app, store, projection, total, until, batch_size, progress)
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


def _fold_in_python(
    app: Application[Any],
    store: ReadStore,
    projection: Projection,
    total: int,
    until: datetime | None,
    batch_size: int,
    progress: Callable[[int, int], None],
) -> tuple[int, int]:
    """(events read, position reached), folding batch by batch."""
    runner = ProjectionRunner(app, store, projection, batch_size=batch_size, suffix=REPLAY)
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
    return read, position


def _fold_in_database(
    store: PostgresReadStore,
    projection: Projection,
    total: int,
    until: datetime | None,
    progress: Callable[[int, int], None],
    connections: int,
) -> tuple[int, int]:
    """(events read, position reached): ranges of posts folded by the database, on
    `connections` connections at once; the tables' indexes are built once, at the end."""
    with store.transaction() as cursor:
        projection.create(cursor, REPLAY)
        indexes = [made for table in projection.tables for made in drop_indexes(cursor, table + REPLAY)]
        cursor.execute("SELECT count(*) FROM herald_events WHERE notification_id <= %s", [total])
        events = int(cursor.fetchone()[0])
    idle: queue.SimpleQueue[PostgresReadStore] = queue.SimpleQueue()
    extra = [PostgresReadStore(store.env) for _ in range(connections - 1)]
    for each in (store, *extra):
        idle.put(each)

    def fold_range(chunk: int) -> None:
        own = idle.get()
        try:
            with own.transaction() as cursor:
                fold(cursor, projection.name, REPLAY, total, until, chunk)
        finally:
            idle.put(own)

    try:
        with ThreadPoolExecutor(connections) as pool:
            for done, finished in enumerate(as_completed([pool.submit(fold_range, c) for c in range(CHUNKS)]), 1):
                finished.result()
                progress(events * done // CHUNKS, events)
    finally:
        for each in extra:
            each.close()
    with store.transaction() as cursor:
        for statement in indexes:
            cursor.execute(statement)
    return events, total


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
