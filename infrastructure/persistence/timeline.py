"""The support timeline's table and queries."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from infrastructure.persistence.connections import Cursor, ReadStore, insert_rows
from projections.timeline import COLUMNS


def create(cursor: Cursor, suffix: str = "") -> None:
    table = "timeline" + suffix
    cursor.execute(
        f"CREATE TABLE IF NOT EXISTS {table} ("
        " post_id TEXT NOT NULL, version INTEGER NOT NULL, at TEXT NOT NULL, event TEXT NOT NULL,"
        " state TEXT NOT NULL, attempt INTEGER, worker TEXT, http_status INTEGER, error_code TEXT,"
        " explanation TEXT NOT NULL, workspace TEXT, external_id TEXT, due_at TEXT, remote_id TEXT,"
        " permalink TEXT, reason TEXT, remediation TEXT, PRIMARY KEY (post_id, version))"
    )
    # external ids are looked up on each post's first row only: an index of one entry per post
    cursor.execute(f"DROP INDEX IF EXISTS {table}_external")  # the earlier index of every row
    cursor.execute(f"CREATE INDEX IF NOT EXISTS {table}_drafted ON {table} (external_id) WHERE event = 'Drafted'")


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
        insert_rows(self.cursor, self.table, COLUMNS, [[row[c] for c in COLUMNS] for row in rows])


class SqlTimeline:
    """The timeline's queries (`projections.timeline.TimelineView`)."""

    def __init__(self, store: ReadStore) -> None:
        self.store = store

    def rows(self, post_id: str, as_of: str | None = None) -> list[dict[str, Any]]:
        clause, params = ("", [post_id]) if as_of is None else (" AND at <= %s", [post_id, as_of])
        with self.store.reading() as cursor:
            cursor.execute(
                f"SELECT {', '.join(COLUMNS)} FROM timeline WHERE post_id = %s{clause} ORDER BY version", params
            )
            return [dict(zip(COLUMNS, found, strict=True)) for found in cursor.fetchall()]

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
        columns = ", ".join(f"t.{column}" for column in COLUMNS)
        with self.store.reading() as cursor:
            cursor.execute(
                f"SELECT e.latest, {columns} FROM ({latest}) AS e"
                " LEFT JOIN timeline AS t ON t.post_id = %s ORDER BY t.version",
                [key, post_id],
            )
            found = cursor.fetchall()
        if not found or found[0][0] is None:
            return None, []
        rows = [dict(zip(COLUMNS, row[1:], strict=True)) for row in found if row[1] is not None]
        return found[0][0], rows

    def post_ids_for_external_id(self, workspace: str | None, external_id: str) -> list[str]:
        clause, params = ("", [external_id]) if workspace is None else (" AND workspace = %s", [external_id, workspace])
        with self.store.reading() as cursor:
            cursor.execute(
                f"SELECT post_id FROM timeline WHERE external_id = %s AND event = 'Drafted'{clause} ORDER BY post_id",
                params,
            )
            return [found[0] for found in cursor.fetchall()]
