"""The post list's table and its page query."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from infrastructure.persistence.connections import Cursor, ReadStore
from projections.facts import utc_text
from projections.post_list import FILTERS


def create(cursor: Cursor, suffix: str = "") -> None:
    table = "post_list" + suffix
    cursor.execute(
        f"CREATE TABLE IF NOT EXISTS {table} (post_id TEXT PRIMARY KEY, workspace TEXT NOT NULL,"
        " created BIGINT NOT NULL, state TEXT NOT NULL, account TEXT NOT NULL, platform TEXT NOT NULL,"
        " external_id TEXT, due_at TEXT, body TEXT NOT NULL)"
    )
    cursor.execute(f"CREATE INDEX IF NOT EXISTS {table}_listing ON {table} (workspace, created)")


class PostListWriter:
    def __init__(self, cursor: Cursor, suffix: str = "") -> None:
        self.cursor = cursor
        self.table = "post_list" + suffix

    def views(self, post_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        wanted = sorted(set(post_ids))
        if not wanted:
            return {}
        marks = ", ".join(["%s"] * len(wanted))
        self.cursor.execute(f"SELECT post_id, body FROM {self.table} WHERE post_id IN ({marks})", wanted)
        return {row[0]: orjson.loads(row[1]) for row in self.cursor.fetchall()}

    def save(self, rows: list[tuple[int | None, dict[str, Any]]]) -> None:
        new = [(created, view) for created, view in rows if created is not None]
        known = [view for created, view in rows if created is None]
        if new:
            self.cursor.executemany(
                f"INSERT INTO {self.table} (post_id, workspace, created, state, account, platform, external_id,"
                " due_at, body) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (post_id) DO UPDATE SET"
                " state = excluded.state, due_at = excluded.due_at, body = excluded.body",
                [[v["id"], v["workspace"], created, *self._columns(v)] for created, v in new],
            )
        if known:
            self.cursor.executemany(
                f"UPDATE {self.table} SET state = %s, account = %s, platform = %s, external_id = %s, due_at = %s,"
                " body = %s WHERE post_id = %s",
                [[*self._columns(v), v["id"]] for v in known],
            )

    @staticmethod
    def _columns(view: dict[str, Any]) -> list[Any]:
        body = orjson.dumps(view).decode()
        return [view["state"], view["account"], view["platform"], view["external_id"], utc_text(view["due_at"]), body]


class SqlPostList:
    def __init__(self, store: ReadStore) -> None:
        self.store = store

    def page(self, workspace: str, after: int, limit: int, filters: dict[str, Any]) -> list[tuple[dict[str, Any], int]]:
        clauses, params = ["workspace = %s", "created > %s"], [workspace, after]
        for column in FILTERS:
            if filters.get(column) is not None:
                clauses.append(f"{column} = %s")
                params.append(filters[column])
        if filters.get("scheduled_from") is not None:
            clauses.append("due_at >= %s")
            params.append(utc_text(filters["scheduled_from"]))
        if filters.get("scheduled_to") is not None:
            clauses.append("due_at < %s")
            params.append(utc_text(filters["scheduled_to"]))
        if filters.get("reason") is not None:  # a failed post's reason, as its view holds it
            clauses.append("body LIKE %s ESCAPE '!'")
            escaped = str(filters["reason"]).replace("!", "!!").replace("_", "!_").replace("%", "!%")
            params.append(f'%"failure_reason":"{escaped}"%')
        if filters.get("text"):  # a fragment of the text, as the view's JSON holds it (support's search)
            clauses.append("body LIKE %s ESCAPE '!'")
            fragment = orjson.dumps(str(filters["text"])).decode()[1:-1]  # escaped as in the body
            params.append("%" + fragment.replace("!", "!!").replace("_", "!_").replace("%", "!%") + "%")
        with self.store.reading() as cursor:
            cursor.execute(
                f"SELECT body, created FROM post_list WHERE {' AND '.join(clauses)} ORDER BY created LIMIT %s",
                [*params, limit],
            )
            return [(orjson.loads(row[0]), int(row[1])) for row in cursor.fetchall()]

    def using(self, workspace: str, media_id: str) -> int:
        """How many posts of `workspace` that may still go out refer to media `media_id`."""
        with self.store.reading() as cursor:
            cursor.execute(
                "SELECT count(*) FROM post_list WHERE workspace = %s"
                " AND state NOT IN ('delivered', 'partial', 'failed', 'canceled') AND body LIKE %s",
                [workspace, f'%"{media_id}"%'],
            )
            row = cursor.fetchone()
            return int(row[0]) if row else 0
