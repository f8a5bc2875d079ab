"""Many aggregates' events in one query. The library reads one aggregate per round trip; a
dispatcher claiming or recording a batch of 200 posts would otherwise make 200 of them.

`newest_versions` reads only each aggregate's newest version, from the primary key: a
process that holds an aggregate already folded learns whether it moved on without reading
its history (an account refreshed every hour has thousands of events within months)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent


def events_of(recorder: Any, ids: Sequence[UUID]) -> dict[UUID, list[StoredEvent]]:
    """Each aggregate's stored events, in version order, read in one query."""
    found: dict[UUID, list[StoredEvent]] = defaultdict(list)
    rows = _rows(
        recorder,
        ids,
        postgres="SELECT originator_id, originator_version, topic, state FROM {schema}.{table}"
        " WHERE originator_id = ANY(%s) ORDER BY originator_id, originator_version",
        sqlite="SELECT originator_id, originator_version, topic, state FROM {table}"
        " WHERE originator_id IN ({marks}) ORDER BY originator_id, originator_version",
    )
    for identity, row in rows:
        found[identity].append(StoredEvent(identity, row[1], row[2], bytes(row[3])))
    return found


def newest_versions(recorder: Any, ids: Sequence[UUID]) -> dict[UUID, int]:
    """Each aggregate's newest version (ids with no events are left out), in one query."""
    rows = _rows(
        recorder,
        ids,
        # one step down the primary key per id, however long its history
        postgres="SELECT k.id AS originator_id, (SELECT originator_version FROM {schema}.{table}"
        "  WHERE originator_id = k.id ORDER BY originator_version DESC LIMIT 1) AS newest"
        " FROM unnest(%s::{id_type}[]) AS k(id)",
        sqlite="SELECT originator_id, max(originator_version) AS newest FROM {table}"
        " WHERE originator_id IN ({marks}) GROUP BY originator_id",
    )
    return {identity: int(row[1]) for identity, row in rows if row[1] is not None}


def _rows(recorder: Any, ids: Sequence[UUID], *, postgres: str, sqlite: str) -> list[tuple[UUID, Any]]:
    """A query over the events of `ids`, in whichever store the recorder writes to: each row
    with its aggregate's id as a UUID, its columns read by position. `postgres` takes the ids
    as one array (`%s`) and names {schema}, {table} and {id_type}; `sqlite` takes them as the
    placeholders {marks}. Rows come as tuples, not the library's dicts: a dict per row was
    most of reading a claimed batch's events (`py-spy`, a burst's dispatcher)."""
    if not ids:
        return []
    datastore = recorder.datastore
    if hasattr(datastore, "schema"):  # PostgreSQL
        from psycopg.rows import tuple_row
        from psycopg.sql import SQL, Identifier

        statement = SQL(postgres).format(
            schema=Identifier(datastore.schema),
            table=Identifier(recorder.events_table_name),
            id_type=Identifier(datastore.originator_id_type),
        )
        with datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as cursor:
            cursor.execute(statement, [list(ids)])
            return [(row[0], row) for row in cursor.fetchall()]
    by_hex = {identity.hex: identity for identity in ids}
    with datastore.transaction(commit=False) as cursor:
        cursor.execute(sqlite.format(table=recorder.events_table_name, marks=", ".join("?" * len(ids))), list(by_hex))
        return [(by_hex[row[0]], row) for row in cursor.fetchall()]
