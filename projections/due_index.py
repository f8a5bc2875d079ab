"""The due-job index: which posts are due, whose leases ran out, what waits for the reconciler.

A pure fold (`changes`) turns each event into column values; `DueIndex` writes them. It lags
the event store a little, so the dispatcher re-checks the aggregate before acting.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from domain.post import Post
from projections.read_store import Cursor

TABLE = "due_index"


def instant(value: datetime | None) -> str | None:
    """Fixed-width UTC text: sorts as time does, in both databases."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def changes(event: Any) -> dict[str, Any]:
    """The columns an event sets on its post's row (the pure fold)."""
    if isinstance(event, Post.Drafted):
        return {
            "workspace": event.workspace,
            "account": event.account,
            "platform": event.platform.value,
            "external_id": event.external_id,
            "state": "draft",
            "attempt": 0,
        }
    if isinstance(event, Post.Scheduled):
        at = instant(event.due_at)
        return {"state": "queued", "due_at": at, "not_before": at, "deadline": instant(event.deadline)}
    if isinstance(event, Post.Rescheduled):
        at = instant(event.due_at)
        return {"due_at": at, "not_before": at, "deadline": instant(event.deadline)}
    if isinstance(event, Post.DispatchClaimed):
        return {
            "state": "dispatched",
            "attempt": event.attempt,
            "lease_until": instant(event.lease_until),
        }
    if isinstance(event, Post.AttemptFailed | Post.ReleasedForRetry):
        return {"state": "queued", "not_before": instant(event.next_attempt_at), "lease_until": None}
    if isinstance(event, Post.OutcomeAmbiguous):
        return {"state": "ambiguous", "lease_until": None}
    if isinstance(event, Post.Delivered):
        return {"state": "delivered", "lease_until": None}
    if isinstance(event, Post.Failed):
        return {"state": "failed", "lease_until": None}
    if isinstance(event, Post.Canceled):
        return {"state": "canceled"}
    return {}


@dataclass(frozen=True)
class DuePost:
    post_id: str
    account: str
    platform: str


class DueIndex:
    """The dispatcher's only query, over one table."""

    name = "due_index"

    def create(self, cursor: Cursor, table: str = TABLE) -> None:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {table} ("
            " post_id TEXT PRIMARY KEY, workspace TEXT NOT NULL, account TEXT NOT NULL,"
            " platform TEXT NOT NULL, external_id TEXT, state TEXT NOT NULL,"
            " attempt INTEGER NOT NULL, due_at TEXT, not_before TEXT, deadline TEXT,"
            " lease_until TEXT, version INTEGER NOT NULL)"
        )
        cursor.execute(f"CREATE INDEX IF NOT EXISTS {table}_due ON {table} (state, not_before)")
        cursor.execute(f"CREATE INDEX IF NOT EXISTS {table}_lease ON {table} (state, lease_until)")

    def apply(self, cursor: Cursor, events: Sequence[Any], table: str = TABLE) -> None:
        """Fold a batch of events into the table (rows and tracking share the transaction)."""
        for event in events:
            values = changes(event)
            if not values:
                continue
            post_id = str(event.originator_id)
            version = event.originator_version
            if isinstance(event, Post.Drafted):
                names = [*values, "post_id", "version"]
                cursor.execute(
                    f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join(['%s'] * len(names))})"
                    " ON CONFLICT (post_id) DO NOTHING",
                    [*values.values(), post_id, version],
                )
            else:
                assignments = ", ".join(f"{name} = %s" for name in values)
                cursor.execute(
                    f"UPDATE {table} SET {assignments}, version = %s WHERE post_id = %s AND version < %s",
                    [*values.values(), version, post_id, version],
                )

    # ── queries ───────────────────────────────────────────────────────────────

    def due(
        self, cursor: Cursor, now: datetime, limit: int, exclude_accounts: Sequence[str] = ()
    ) -> list[DuePost]:
        """Queued posts due at or before `now`, oldest first, spread fairly across accounts."""
        skip = ""
        params: list[Any] = [instant(now)]
        if exclude_accounts:
            skip = f" AND account NOT IN ({', '.join(['%s'] * len(exclude_accounts))})"
            params += list(exclude_accounts)
        cursor.execute(
            "SELECT post_id, account, platform FROM ("
            " SELECT post_id, account, platform, not_before,"
            "  ROW_NUMBER() OVER (PARTITION BY account ORDER BY not_before) AS turn"
            f" FROM {TABLE} WHERE state = 'queued' AND not_before <= %s{skip}"
            ") AS due ORDER BY turn, not_before LIMIT %s",
            [*params, limit],
        )
        return [DuePost(*row) for row in cursor.fetchall()]

    def expired_leases(self, cursor: Cursor, now: datetime, limit: int) -> list[str]:
        cursor.execute(
            f"SELECT post_id FROM {TABLE} WHERE state = 'dispatched' AND lease_until <= %s"
            " ORDER BY lease_until LIMIT %s",
            [instant(now), limit],
        )
        return [row[0] for row in cursor.fetchall()]

    def past_deadline(self, cursor: Cursor, now: datetime, limit: int) -> list[str]:
        cursor.execute(
            f"SELECT post_id FROM {TABLE} WHERE state = 'queued' AND deadline < %s LIMIT %s",
            [instant(now), limit],
        )
        return [row[0] for row in cursor.fetchall()]

    def ambiguous(self, cursor: Cursor, limit: int) -> list[str]:
        cursor.execute(f"SELECT post_id FROM {TABLE} WHERE state = 'ambiguous' LIMIT %s", [limit])
        return [row[0] for row in cursor.fetchall()]

    def next_due(self, cursor: Cursor) -> datetime | None:
        cursor.execute(f"SELECT MIN(not_before) FROM {TABLE} WHERE state = 'queued'")
        row = cursor.fetchone()
        return datetime.fromisoformat(row[0]) if row and row[0] else None

    def counts(self, cursor: Cursor) -> dict[str, int]:
        cursor.execute(f"SELECT state, COUNT(*) FROM {TABLE} GROUP BY state")
        return {state: int(count) for state, count in cursor.fetchall()}
