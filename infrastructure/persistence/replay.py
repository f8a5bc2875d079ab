"""Replay: rebuild a projection from event 0 into fresh tables, then swap them in.

The live projection keeps running meanwhile: the replay writes `<table>_replay` and its own
tracking row. The swap is one transaction that replaces the live tables and moves the live
position to where the replay stopped; the live runner then carries on from there. With
`until`, only events that happened at or before that instant are folded, and the result is
kept beside the live tables as `<table>_asof` instead of replacing them.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import datetime

from infrastructure.persistence.connections import Cursor, ReadStore, drop_indexes, index_names
from infrastructure.persistence.postgres_fold import CHUNKS, can_fold, fold
from infrastructure.persistence.projection_store import TRACKING, SqlProjectionStore
from projections.facts import utc_text
from projections.runner import Projection, ProjectionRunner

REPLAY = "_replay"


def replay(
    projections: SqlProjectionStore,
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
    store = projections.store
    with store.transaction() as cursor:
        _drop(cursor, projection, REPLAY)
        cursor.execute(f"DELETE FROM {TRACKING} WHERE name = %s", [projection.name + REPLAY])
    total = projections.last_position()
    if store.dialect == "postgres" and can_fold(projection.name, projections.mapper):
        read, position = _fold_in_database(projections, projection, total, until, progress, connections)
    else:
        read, position = _fold_in_python(projections, projection, total, until, batch_size, progress)
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
    projections: SqlProjectionStore,
    projection: Projection,
    total: int,
    until: datetime | None,
    batch_size: int,
    progress: Callable[[int, int], None],
) -> tuple[int, int]:
    """(events read, position reached), folding batch by batch."""
    runner = ProjectionRunner(projections, projection, batch_size=batch_size, suffix=REPLAY)
    limit = utc_text(until)
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
    projections: SqlProjectionStore,
    projection: Projection,
    total: int,
    until: datetime | None,
    progress: Callable[[int, int], None],
    connections: int,
) -> tuple[int, int]:
    """(events read, position reached): ranges of posts folded by the database, on
    `connections` connections of the pool at once; the tables' indexes are built once, at the end."""
    store = projections.store
    with store.transaction() as cursor:
        projections.create_tables(cursor, projection, REPLAY)
        indexes = [made for table in projection.tables for made in drop_indexes(cursor, table + REPLAY)]
        cursor.execute("SELECT count(*) FROM herald_events WHERE notification_id <= %s", [total])
        events = int(cursor.fetchone()[0])

    def fold_range(chunk: int) -> None:
        with store.transaction() as cursor:
            fold(cursor, projection.name, REPLAY, total, until, chunk)

    with ThreadPoolExecutor(connections) as pool:
        for done, finished in enumerate(as_completed([pool.submit(fold_range, c) for c in range(CHUNKS)]), 1):
            finished.result()
            progress(events * done // CHUNKS, events)
    with store.transaction() as cursor:
        for statement in indexes:
            cursor.execute(statement)
        for table in projection.tables:  # statistics now: a fresh table's guesses can plan a look-up 10x slower
            cursor.execute(f"ANALYZE {table}{REPLAY}")
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
    SqlProjectionStore.create_tables(cursor, projection, new)  # recreates any index the rename dropped


def _drop(cursor: Cursor, projection: Projection, suffix: str) -> None:
    for table in projection.tables:
        cursor.execute(f"DROP TABLE IF EXISTS {table}{suffix}")
