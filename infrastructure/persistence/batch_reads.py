"""Many aggregates' events in one query. The library reads one aggregate per round trip; a
dispatcher claiming or recording a batch of 200 posts would otherwise make 200 of them."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent


def events_of(recorder: Any, ids: Sequence[UUID]) -> dict[UUID, list[StoredEvent]]:
    """Each aggregate's stored events, in version order, read in one query."""
    found: dict[UUID, list[StoredEvent]] = defaultdict(list)
    if not ids:
        return found
    datastore = recorder.datastore
    if hasattr(datastore, "schema"):  # PostgreSQL
        from psycopg.sql import SQL, Identifier

        statement = SQL(
            "SELECT originator_id, originator_version, topic, state FROM {schema}.{table}"
            " WHERE originator_id = ANY(%s) ORDER BY originator_id, originator_version"
        ).format(schema=Identifier(datastore.schema), table=Identifier(recorder.events_table_name))
        with datastore.get_connection() as conn, conn.cursor() as cursor:
            cursor.execute(statement, [list(ids)])
            for row in cursor.fetchall():
                found[row["originator_id"]].append(
                    StoredEvent(row["originator_id"], row["originator_version"], row["topic"], bytes(row["state"]))
                )
        return found
    marks = ", ".join("?" * len(ids))
    by_hex = {identity.hex: identity for identity in ids}
    with datastore.transaction(commit=False) as cursor:
        cursor.execute(
            f"SELECT originator_id, originator_version, topic, state FROM {recorder.events_table_name}"
            f" WHERE originator_id IN ({marks}) ORDER BY originator_id, originator_version",
            list(by_hex),
        )
        for row in cursor.fetchall():
            identity = by_hex[row["originator_id"]]
            found[identity].append(StoredEvent(identity, row["originator_version"], row["topic"], bytes(row["state"])))
    return found
