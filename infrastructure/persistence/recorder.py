"""The library's PostgreSQL recorder, sending a batch's events as four binary arrays.

The library inserts an array of a composite `stored_event` type, which psycopg writes out as
text in Python, byte by byte of every event's state: ~8% of a dispatcher's CPU in a burst.
Four arrays in binary (`%b`) carry the same rows with no escaping. Everything else, the table
lock that keeps the notification log gap-free included, is the library's own.

A save may carry due hints (`services/due_hints.py`): they go out as the payloads of the
notification the library sends on commit, with each account's partition worked out as the
due query works it out, so a dispatcher keeps only its own. The notification goes to a channel
of the store's own schema. A save may also carry its requests' own writes
(`services/joined_writes.py`), made in its transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Identifier

from infrastructure.persistence.partitions import PARTITIONS
from services.due_hints import DueHint
from services.joined_writes import JoinedWrite, by_kind

HINTS_PER_NOTIFICATION = 30  # a payload stays under PostgreSQL's 8,000 bytes
CHANNEL_BYTES = 63  # PostgreSQL's longest identifier: a channel name is one


def channel_of(schema: str, table: str) -> str:
    """The events table's notification channel, named for its schema too: one database may
    hold several Herald stores (a schema each), and a save in one must not wake the others."""
    return f"{schema}.{table}".encode()[:CHANNEL_BYTES].decode(errors="ignore")


class BinaryInsertRecorder(PostgresApplicationRecorder):
    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events") -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        self.channel_name = channel_of(datastore.schema, events_table_name)
        self.insert_events_statement = SQL(
            "INSERT INTO {schema}.{table} (originator_id, originator_version, topic, state)"
            " SELECT * FROM unnest(%b::{id_type}[], %b::bigint[], %b::text[], %b::bytea[])"
            " RETURNING notification_id"
        ).format(
            schema=Identifier(datastore.schema),
            table=Identifier(events_table_name),
            id_type=Identifier(datastore.originator_id_type),
        )

        self.notify_hints_statement = SQL(
            "SELECT pg_notify(%s, chunk) FROM ("
            " SELECT json_agg(json_build_array(id, ws, account, platform, at,"
            "  hashtext(ws || '/' || account)::bigint & {last}) ORDER BY n)::text AS chunk"
            " FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::float8[])"
            "  WITH ORDINALITY AS hint(id, ws, account, platform, at, n)"
            " GROUP BY (n - 1) / {size}) AS chunks"
        ).format(last=PARTITIONS - 1, size=HINTS_PER_NOTIFICATION)

    def _insert_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], also: Sequence[JoinedWrite] = (), **_: Any
    ) -> None:
        """The requests' own writes (`services/joined_writes.py`), first in the transaction: rows
        locked before the events table, as every writer takes them, so no two wait on each other."""
        for write, rows in by_kind(also):
            write(curs, rows)

    def _insert_stored_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], due: Sequence[DueHint] = (), **_: Any
    ) -> None:
        self._lock_table(curs)
        if due:  # the notification, carrying the hints (it wakes every listener as a bare one does)
            columns = [list(column) for column in zip(*(hint.row() for hint in due), strict=True)]
            curs.execute(self.notify_hints_statement, [self.channel_name, *columns])
        else:
            self._notify_channel(curs)
        curs.execute(
            self.insert_events_statement,
            [
                [event.originator_id for event in stored_events],
                [event.originator_version for event in stored_events],
                [event.topic for event in stored_events],
                [event.state for event in stored_events],
            ],
        )
