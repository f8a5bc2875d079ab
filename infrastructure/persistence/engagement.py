"""The engagement projection's table and queries (see `projections/engagement.py`)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from domain.engagement import CHECKPOINTS
from infrastructure.persistence.connections import Cursor, ReadStore
from projections.engagement import Tracked
from projections.facts import utc_text

COLUMNS = {name: f"m_{name}" for name in CHECKPOINTS}  # counts "likes,reposts,replies", or "-": none
WINDOW = timedelta(days=8)  # posts delivered longer ago get no more checkpoints


def create(cursor: Cursor, suffix: str = "") -> None:
    table = "engagement" + suffix
    cursor.execute(
        f"CREATE TABLE IF NOT EXISTS {table} (post_id TEXT PRIMARY KEY, workspace TEXT NOT NULL,"
        " account TEXT NOT NULL, platform TEXT NOT NULL, remote_id TEXT, delivered_at TEXT,"
        f" {', '.join(f'{c} TEXT' for c in COLUMNS.values())})"
    )
    cursor.execute(f"CREATE INDEX IF NOT EXISTS {table}_delivered ON {table} (delivered_at)")
    cursor.execute(f"CREATE INDEX IF NOT EXISTS {table}_account ON {table} (workspace, account, delivered_at)")


class EngagementWriter:
    def __init__(self, cursor: Cursor, suffix: str = "") -> None:
        self.cursor = cursor
        self.table = "engagement" + suffix

    def save(self, drafted: list[list[Any]], delivered: list[list[Any]], measured: list[list[Any]]) -> None:
        if drafted:
            self.cursor.executemany(
                f"INSERT INTO {self.table} (post_id, workspace, account, platform) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (post_id) DO NOTHING",
                drafted,
            )
        if delivered:
            self.cursor.executemany(
                f"UPDATE {self.table} SET delivered_at = %s, remote_id = %s WHERE post_id = %s", delivered
            )
        for checkpoint, shown, post_id in measured:
            self.cursor.execute(
                f"UPDATE {self.table} SET {COLUMNS[checkpoint]} = %s WHERE post_id = %s", [shown, post_id]
            )


class SqlEngagementView:
    def __init__(self, store: ReadStore) -> None:
        self.store = store

    def due(self, now: datetime, limit: int) -> list[Tracked]:
        clauses = " OR ".join(f"({column} IS NULL AND delivered_at <= %s)" for column in COLUMNS.values())
        params: list[Any] = [utc_text(now - WINDOW), *(utc_text(now - after) for after in CHECKPOINTS.values()), limit]
        with self.store.reading() as cursor:
            cursor.execute(
                f"SELECT post_id, workspace, account, platform, remote_id, delivered_at, {', '.join(COLUMNS.values())}"
                f" FROM engagement WHERE delivered_at >= %s AND ({clauses}) ORDER BY delivered_at LIMIT %s",
                params,
            )
            rows = cursor.fetchall()
        return [
            Tracked(
                post_id=row[0],
                workspace=row[1],
                account=row[2],
                platform=row[3],
                remote_id=row[4],
                delivered_at=datetime.fromisoformat(row[5]),
                done=frozenset(name for name, value in zip(COLUMNS, row[6:], strict=True) if value is not None),
            )
            for row in rows
        ]

    def samples(self, workspace: str | None, account: str | None, limit: int) -> list[tuple[datetime, int]]:
        where, params = "delivered_at IS NOT NULL", []
        if workspace is not None:
            where += " AND workspace = %s"
            params.append(workspace)
        if account is not None:
            where += " AND account = %s"
            params.append(account)
        latest = " , ".join(reversed(list(COLUMNS.values())))
        with self.store.reading() as cursor:
            cursor.execute(
                f"SELECT delivered_at, {latest} FROM engagement WHERE {where} ORDER BY delivered_at DESC LIMIT %s",
                [*params, limit],
            )
            rows = cursor.fetchall()
        found = []
        for row in rows:
            counts = next((value for value in row[1:] if value not in (None, "-")), None)
            if counts is not None:
                found.append((datetime.fromisoformat(row[0]), sum(int(n) for n in counts.split(","))))
        return found
