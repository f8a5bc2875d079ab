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


def newest_versions(recorder: Any, ids: Sequence[UUID]) -> dict[UUID, int]:
    """Each aggregate's newest version (ids with no events are left out), in one query."""
    if not ids:
        return {}
    datastore = recorder.datastore
    if hasattr(datastore, "schema"):  # PostgreSQL
        from psycopg.sql import SQL, Identifier

        statement = SQL(  # one step down the primary key per id, however long its history
            "SELECT k.id AS originator_id, (SELECT originator_version FROM {schema}.{table}"
            "  WHERE originator_id = k.id ORDER BY originator_version DESC LIMIT 1) AS newest"
            " FROM unnest(%s::{id_type}[]) AS k(id)"
        ).format(
            schema=Identifier(datastore.schema),
            table=Identifier(recorder.events_table_name),
            id_type=Identifier(datastore.originator_id_type),
        )
        with datastore.get_connection() as conn, conn.cursor() as cursor:
            cursor.execute(statement, [list(ids)])
            return {row["originator_id"]: int(row["newest"]) for row in cursor.fetchall() if row["newest"] is not None}
    by_hex = {identity.hex: identity for identity in ids}
    with datastore.transaction(commit=False) as cursor:
        cursor.execute(
            f"SELECT originator_id, max(originator_version) AS newest FROM {recorder.events_table_name}"
            f" WHERE originator_id IN ({', '.join('?' * len(ids))}) GROUP BY originator_id",
            list(by_hex),
        )
        return {by_hex[row["originator_id"]]: int(row["newest"]) for row in cursor.fetchall()}
