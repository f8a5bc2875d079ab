"""The due index's table and queries, on SQLite and PostgreSQL (one SQL, `%s` placeholders)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg

from infrastructure.persistence.connections import (
    Cursor,
    ReadStore,
    bytewise,
    on_postgres,
    update_rows,
    upsert_rows,
)
from infrastructure.persistence.partitions import partition_filter
from projections.due_index import BOOKED, COLUMNS, DuePost, Waiting
from projections.facts import utc_text

log = logging.getLogger("herald.due_index")
CANDIDATES = 8  # the due query spreads a batch fairly across the oldest 8 batches of due posts
TYPES = {"created": "bigint", "attempt": "integer", "version": "integer"}  # the rest are text

# Each query's index holds only the rows it can find: the posts still moving. A settled post
# (most rows, in time) is in none of them, so writing its last change, and building them after
# a replay, costs little. Each predicate is a term of its queries' WHERE, written out as they
# write it: SQLite uses a partial index only when the query repeats its terms.
INDEXES = {
    "_queued": ("not_before", "state = 'queued'"),  # due, next due
    "_deadline": ("deadline", "state = 'queued'"),  # past deadline (no queued post is read for it)
    "_leased": ("lease_until", "state = 'dispatched'"),  # expired leases
    "_attention": ("changed_at", "waiting_for IS NOT NULL"),  # needing attention, oldest first
    "_unsettled": ("state, post_id", "state = 'ambiguous' OR state = 'held'"),  # for the reconciler
}
SUPERSEDED = ("_due", "_lease", "_waiting", "_state")  # their whole-table forms, before 2026-12-03


def create(cursor: Cursor, suffix: str = "") -> None:
    table = "due_index" + suffix
    cursor.execute(
        f"CREATE TABLE IF NOT EXISTS {table} ("
        f" post_id TEXT{bytewise(cursor)} PRIMARY KEY, created BIGINT NOT NULL, workspace TEXT NOT NULL,"
        " account TEXT NOT NULL, platform TEXT NOT NULL, external_id TEXT, state TEXT NOT NULL,"
        " attempt INTEGER NOT NULL, due_at TEXT, not_before TEXT, deadline TEXT,"
        " lease_until TEXT, waiting_for TEXT, version INTEGER NOT NULL, changed_at TEXT)"
    )
    for index in SUPERSEDED:
        cursor.execute(f"DROP INDEX IF EXISTS {table}{index}")
    for name, (columns, where) in INDEXES.items():
        cursor.execute(f"CREATE INDEX IF NOT EXISTS {table}{name} ON {table} ({columns}) WHERE {where}")


ANALYZE_AFTER = 1000  # posts joining the queue before the planner's statistics are refreshed, at least


class Statistics:
    """The planner's statistics of the due index on PostgreSQL, refreshed by the fold when many
    posts joined the queue since: after half as many as the table held at the last refresh.

    PostgreSQL's own autovacuum looks at most once a minute. A queue that grew from a few posts
    to 100k in the meantime (a burst scheduled a few seconds ahead) is planned as if it were
    still small: the due query then read and sorted every queued post, 86 ms a batch against
    3.7 ms once analyzed, through the whole burst."""

    def __init__(self) -> None:
        self.joined, self.after = 0, ANALYZE_AFTER

    def joined_queue(self, cursor: Any, table: str, count: int) -> None:
        """Count `count` posts that joined the queue; refresh if enough did. In the fold's
        transaction, so it counts the rows just written; in a savepoint, so a refusal (the
        role may not analyze) leaves the fold's writes alone; skipped while autovacuum has the
        table."""
        self.joined += count
        if self.joined < self.after:
            return
        self.joined = 0
        try:
            with cursor.connection.transaction():
                cursor.execute(f"ANALYZE (SKIP_LOCKED) {table}")
                cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [table])
                found = cursor.fetchone()
        except psycopg.Error as refused:
            log.warning("the due index's statistics were not refreshed: %s", refused)
            return
        self.after = max(ANALYZE_AFTER, int(found[0] if found else 0) // 2)


STATISTICS = Statistics()  # of this process's folds (one process folds the due index)


class DueIndexWriter:
    def __init__(self, cursor: Cursor, suffix: str = "") -> None:
        self.cursor = cursor
        self.table = "due_index" + suffix
        # a replay's table is analyzed once it is built; SQLite plans from its partial indexes alone
        self.statistics = STATISTICS if not suffix and on_postgres(cursor) else None

    def upsert(self, rows: list[tuple[str, dict[str, Any]]]) -> None:
        values = [[post_id, *(row[c] for c in COLUMNS)] for post_id, row in rows]
        upsert_rows(self.cursor, self.table, "post_id", COLUMNS, values, TYPES)
        self._joined(rows)

    def update(self, rows: list[tuple[str, dict[str, Any]]]) -> None:
        by_columns: dict[tuple[str, ...], list[list[Any]]] = {}
        for post_id, row in rows:
            by_columns.setdefault(tuple(row), []).append([*row.values(), post_id])
        for columns, params in by_columns.items():
            update_rows(self.cursor, self.table, "post_id", columns, params, TYPES)
        self._joined(rows)

    def _joined(self, rows: list[tuple[str, dict[str, Any]]]) -> None:
        if self.statistics is not None:
            joined = sum(1 for _, row in rows if row.get("state") == "queued")
            if joined:
                self.statistics.joined_queue(self.cursor, self.table, joined)


class SqlDueIndex:
    """The due index's queries (`projections.due_index.DueIndexView`)."""

    def __init__(self, store: ReadStore) -> None:
        self.store = store

    def due(
        self,
        now: datetime,
        limit: int,
        exclude_accounts: Sequence[tuple[str, str]] = (),
        share: tuple[int, int] | None = None,
    ) -> list[DuePost]:
        """Fairness is taken among the oldest `CANDIDATES * limit` due posts (found through the
        queued posts' index), so the query costs the same with ten or a million posts
        waiting: each account's oldest candidate comes first, then each one's second, and so on."""
        skip = ""
        params: list[Any] = [utc_text(now)]
        if exclude_accounts:  # by workspace and name: equal names in two workspaces are two accounts
            skip = " AND NOT (" + " OR ".join(["(workspace = %s AND account = %s)"] * len(exclude_accounts)) + ")"
            params += [value for pair in exclude_accounts for value in pair]
        if share is not None and self.store.dialect == "postgres":
            mine, values = partition_filter(share)
            skip += mine
            params += values
        with self.store.reading() as cursor:
            cursor.execute(
                "SELECT post_id, account, platform, workspace, version FROM ("
                " SELECT post_id, account, platform, workspace, version, not_before,"
                "  ROW_NUMBER() OVER (PARTITION BY workspace, account ORDER BY not_before) AS turn FROM ("
                "  SELECT post_id, account, platform, workspace, version, not_before FROM due_index"
                f"  WHERE state = 'queued' AND not_before <= %s{skip} ORDER BY not_before LIMIT %s"
                " ) AS oldest) AS due ORDER BY turn, not_before LIMIT %s",
                [*params, limit * CANDIDATES, limit],
            )
            return [DuePost(*row) for row in cursor.fetchall()]

    def expired_leases(self, now: datetime, limit: int) -> list[str]:
        return self._ids(
            "SELECT post_id FROM due_index WHERE state = 'dispatched' AND lease_until <= %s"
            " ORDER BY lease_until LIMIT %s",
            [utc_text(now), limit],
        )

    def past_deadline(self, now: datetime, limit: int) -> list[DuePost]:
        with self.store.reading() as cursor:
            cursor.execute(
                "SELECT post_id, account, platform, workspace FROM due_index WHERE state = 'queued'"
                " AND deadline < %s LIMIT %s",
                [utc_text(now), limit],
            )
            return [DuePost(*row) for row in cursor.fetchall()]

    def ambiguous(self, limit: int, after: str = "") -> list[str]:
        return self._ids(
            "SELECT post_id FROM due_index WHERE state = 'ambiguous' AND waiting_for IS NULL AND post_id > %s"
            " ORDER BY post_id LIMIT %s",
            [after, limit],
        )

    def held(self, limit: int, after: str = "") -> list[DuePost]:
        with self.store.reading() as cursor:
            cursor.execute(
                "SELECT post_id, account, platform, workspace FROM due_index WHERE state = 'held' AND post_id > %s"
                " ORDER BY post_id LIMIT %s",
                [after, limit],
            )
            return [DuePost(*row) for row in cursor.fetchall()]

    def needing_attention(self, workspace: str | None, limit: int) -> list[Waiting]:
        clause, params = ("", [limit]) if workspace is None else (" AND workspace = %s", [workspace, limit])
        with self.store.reading() as cursor:
            cursor.execute(
                "SELECT post_id, workspace, account, platform, state, waiting_for, changed_at, deadline"
                f" FROM due_index WHERE waiting_for IS NOT NULL{clause} ORDER BY changed_at LIMIT %s",
                params,
            )
            return [Waiting(*row) for row in cursor.fetchall()]

    def next_due(self) -> datetime | None:
        with self.store.reading() as cursor:
            cursor.execute("SELECT MIN(not_before) FROM due_index WHERE state = 'queued'")
            row = cursor.fetchone()
        return datetime.fromisoformat(row[0]) if row and row[0] else None

    def counts(self) -> dict[str, int]:
        with self.store.reading() as cursor:
            cursor.execute(
                "SELECT CASE WHEN state = 'ambiguous' AND waiting_for IS NOT NULL THEN 'attention' ELSE state END,"
                " COUNT(*) FROM due_index GROUP BY 1"
            )
            return {state: int(count) for state, count in cursor.fetchall()}

    def oldest_changes(self) -> dict[str, str]:
        """{state: the oldest last-change instant} of posts waiting: ambiguous, attention, held."""
        with self.store.reading() as cursor:
            cursor.execute(
                "SELECT CASE WHEN state = 'ambiguous' AND waiting_for IS NOT NULL THEN 'attention' ELSE state END,"
                " MIN(changed_at) FROM due_index WHERE state IN ('ambiguous', 'held') GROUP BY 1"
            )
            return {state: at for state, at in cursor.fetchall() if at}

    def booked(self, workspace: str, account: str, since: datetime) -> dict[UUID, datetime]:
        marks = ", ".join(["%s"] * len(BOOKED))
        with self.store.reading() as cursor:
            cursor.execute(
                "SELECT post_id, due_at FROM due_index WHERE workspace = %s AND account = %s AND due_at >= %s"
                f" AND state IN ({marks}) ORDER BY due_at LIMIT 10000",
                [workspace, account, utc_text(since), *BOOKED],
            )
            return {UUID(row[0]): datetime.fromisoformat(row[1]) for row in cursor.fetchall()}

    def _ids(self, sql: str, params: list[Any]) -> list[str]:
        with self.store.reading() as cursor:
            cursor.execute(sql, params)
            return [row[0] for row in cursor.fetchall()]
