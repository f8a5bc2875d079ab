"""The support timeline's table and queries.

The table keeps `projections.timeline.STORED` per event; a look-up reads each row beside the
stored event it stands for (one statement, by the log's primary key) and shows the whole row
from both (`projections.timeline.shown`).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.persistence import Mapper

from infrastructure.persistence.connections import Cursor, ReadStore, bytewise, insert_rows
from infrastructure.persistence.facts import fact_of
from projections.timeline import ANSWERED, COLUMNS, STORED, shown

DERIVED = [column for column in COLUMNS if column not in STORED]  # read from the event when shown


def create(cursor: Cursor, suffix: str = "") -> None:
    table = "timeline" + suffix
    cursor.execute(
        f"CREATE TABLE IF NOT EXISTS {table} ("
        f" post_id TEXT{bytewise(cursor)} NOT NULL, version INTEGER NOT NULL, at TEXT NOT NULL, event TEXT NOT NULL,"
        " state TEXT NOT NULL, workspace TEXT, external_id TEXT, reason TEXT, PRIMARY KEY (post_id, version))"
    )
    _drop_derived(cursor, table)
    # external ids are looked up on each post's first row only: an index of one entry per post
    cursor.execute(f"DROP INDEX IF EXISTS {table}_external")  # the earlier index of every row
    cursor.execute(f"CREATE INDEX IF NOT EXISTS {table}_drafted ON {table} (external_id) WHERE event = 'Drafted'")


def _drop_derived(cursor: Cursor, table: str) -> None:
    """Tables made before rows were shown from their events also held the sentence and the
    other columns now read from the event. The columns kept mean the same, so dropping the
    rest is the whole migration: no replay."""
    described = cursor.execute(f"SELECT * FROM {table} WHERE 1 = 0").description or ()
    present = {column[0] for column in described}
    for column in DERIVED:
        if column in present:
            cursor.execute(f"ALTER TABLE {table} DROP COLUMN {column}")


class TimelineWriter:
    def __init__(self, cursor: Cursor, suffix: str = "") -> None:
        self.cursor = cursor
        self.table = "timeline" + suffix

    def last_known(self, post_id: str) -> tuple[str | None, dict[str, Any]]:
        self.cursor.execute(
            f"SELECT state, workspace, external_id FROM {self.table} WHERE post_id = %s ORDER BY version DESC LIMIT 1",
            [post_id],
        )
        found = self.cursor.fetchone()
        if not found:
            return None, {}
        return found[0], {"workspace": found[1], "external_id": found[2]}

    def append(self, rows: list[dict[str, Any]]) -> None:
        """Rows are only ever appended (COPY on PostgreSQL)."""
        insert_rows(self.cursor, self.table, STORED, [[row[c] for c in STORED] for row in rows])


def answered_since(workspace: str, since: str) -> tuple[str, list[Any]]:
    """The WHERE (over timeline rows `t`) and its parameters for a workspace's rows since
    `since` that can hold a platform's answer: `answered` reads them, and the console finds
    their accounts through them."""
    marks = ", ".join(["%s"] * len(ANSWERED))
    return f"t.workspace = %s AND t.at >= %s AND t.event IN ({marks})", [workspace, since, *ANSWERED]


def with_events(dialect: str, table: str = "timeline") -> str:
    """FROM a timeline table `t` joined to the stored event `e` each row stands for, selecting
    the stored columns and then the event's position, id, version, topic and state."""
    columns = ", ".join(f"t.{column}" for column in STORED)
    if dialect == "postgres":
        return (
            f"SELECT {columns}, e.notification_id, e.originator_id::text AS event_of, e.originator_version,"
            " e.topic, e.state AS event_state"
            f" FROM {table} AS t JOIN herald_events AS e"
            " ON e.originator_id = t.post_id::uuid AND e.originator_version = t.version"
        )
    return (  # the library keeps ids in SQLite as 32 hex digits
        f"SELECT {columns}, e.rowid AS position, e.originator_id AS event_of, e.originator_version,"
        " e.topic, e.state AS event_state"
        f" FROM {table} AS t JOIN stored_events AS e"
        " ON e.originator_id = replace(t.post_id, '-', '') AND e.originator_version = t.version"
    )


def show(mapper: Mapper[Any], found: list[Any]) -> list[dict[str, Any]]:
    """Whole rows from rows of `with_events`."""
    width = len(STORED)
    return [shown(dict(zip(STORED, row[:width], strict=True)), fact_of(mapper, *row[width:])) for row in found]


class SqlTimeline:
    """The timeline's queries (`projections.timeline.TimelineView`)."""

    def __init__(self, store: ReadStore, mapper: Mapper[Any]) -> None:
        self.store = store
        self.mapper = mapper

    def rows(self, post_id: str, as_of: str | None = None) -> list[dict[str, Any]]:
        clause, params = ("", [post_id]) if as_of is None else (" AND t.at <= %s", [post_id, as_of])
        with self.store.reading() as cursor:
            cursor.execute(f"{with_events(self.store.dialect)} WHERE t.post_id = %s{clause} ORDER BY t.version", params)
            return show(self.mapper, cursor.fetchall())

    def rows_and_latest(self, post_id: str) -> tuple[int | None, list[dict[str, Any]]]:
        """The post's rows and the version of its newest stored event, in one statement: the
        caller sees whether the projection has caught up with this post without folding it.
        `None` when the log holds no such post."""
        if self.store.dialect == "postgres":
            latest, key = (
                "SELECT max(originator_version) AS latest FROM herald_events WHERE originator_id = %s::uuid",
                post_id,
            )
        else:  # the library keeps ids there as 32 hex digits
            latest, key = (
                "SELECT max(originator_version) AS latest FROM stored_events WHERE originator_id = %s",
                UUID(post_id).hex,
            )
        with self.store.reading() as cursor:
            cursor.execute(
                f"SELECT l.latest, w.* FROM ({latest}) AS l"
                f" LEFT JOIN ({with_events(self.store.dialect)} WHERE t.post_id = %s) AS w ON TRUE"
                " ORDER BY w.version",
                [key, post_id],
            )
            found = cursor.fetchall()
        if not found or found[0][0] is None:
            return None, []
        return found[0][0], show(self.mapper, [row[1:] for row in found if row[1] is not None])

    def post_ids_for_external_id(self, workspace: str | None, external_id: str) -> list[str]:
        clause, params = ("", [external_id]) if workspace is None else (" AND workspace = %s", [external_id, workspace])
        with self.store.reading() as cursor:
            cursor.execute(
                f"SELECT post_id FROM timeline WHERE external_id = %s AND event = 'Drafted'{clause} ORDER BY post_id",
                params,
            )
            return [found[0] for found in cursor.fetchall()]

    def answered(self, workspace: str, since: str, http_status: int) -> list[dict[str, Any]]:
        """The workspace's rows since `since` (oldest first) where the platform answered with
        `http_status`: the events that can hold a refusal, read and kept by their answer."""
        where, params = answered_since(workspace, since)
        with self.store.reading() as cursor:
            cursor.execute(f"{with_events(self.store.dialect)} WHERE {where} ORDER BY t.at", params)
            found = show(self.mapper, cursor.fetchall())
        return [row for row in found if row["http_status"] == http_status]
