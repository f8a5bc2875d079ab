"""The due-job index: which posts are due, whose leases ran out, what waits for the reconciler.

A pure fold (`changes`) turns each event into column values; `DueIndex` folds a batch in
memory and writes one row per post. It lags the event store a little, so the dispatcher
re-checks the aggregate before acting.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from projections.facts import Fact, fixed
from projections.read_store import Cursor, update_rows

COLUMNS = (
    "created",
    "workspace",
    "account",
    "platform",
    "external_id",
    "state",
    "attempt",
    "due_at",
    "not_before",
    "deadline",
    "lease_until",
    "version",
)
CANDIDATES = 8  # the due query spreads a batch fairly across the oldest 8 batches of due posts
TYPES = {"created": "bigint", "attempt": "integer", "version": "integer"}  # the rest are text


def instant(value: datetime | None) -> str | None:
    """Fixed-width UTC text: sorts as time does, in both databases."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def changes(fact: Fact) -> dict[str, Any]:
    """The columns an event sets on its post's row (the pure fold)."""
    data, name = fact.data, fact.name
    if name == "Drafted":
        return {
            "workspace": data["workspace"],
            "account": data["account"],
            "platform": data["platform"],
            "external_id": data["external_id"],
            "state": "draft",
            "attempt": 0,
        }
    if name in ("Scheduled", "Rescheduled"):
        due = fixed(data["due_at"])
        return {"state": "queued", "due_at": due, "not_before": due, "deadline": fixed(data["deadline"])}
    if name == "DispatchClaimed":
        return {"state": "dispatched", "attempt": data["attempt"], "lease_until": fixed(data["lease_until"])}
    if name in ("AttemptFailed", "ReleasedForRetry"):
        return {"state": "queued", "not_before": fixed(data["next_attempt_at"]), "lease_until": None}
    return {
        "OutcomeAmbiguous": {"state": "ambiguous", "lease_until": None},
        "Delivered": {"state": "delivered", "lease_until": None},
        "Failed": {"state": "failed", "lease_until": None},
        "Canceled": {"state": "canceled"},
    }.get(name, {})


@dataclass(frozen=True)
class DuePost:
    post_id: str
    account: str
    platform: str
    workspace: str = "default"


class DueIndex:
    """The dispatcher's only query, over one table."""

    name = "due_index"
    tables = ("due_index",)

    def create(self, cursor: Cursor, suffix: str = "") -> None:
        table = self.name + suffix
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {table} ("
            " post_id TEXT PRIMARY KEY, created BIGINT NOT NULL, workspace TEXT NOT NULL, account TEXT NOT NULL,"
            " platform TEXT NOT NULL, external_id TEXT, state TEXT NOT NULL,"
            " attempt INTEGER NOT NULL, due_at TEXT, not_before TEXT, deadline TEXT,"
            " lease_until TEXT, version INTEGER NOT NULL)"
        )
        cursor.execute(f"CREATE INDEX IF NOT EXISTS {table}_due ON {table} (state, not_before)")
        cursor.execute(f"CREATE INDEX IF NOT EXISTS {table}_lease ON {table} (state, lease_until)")
        cursor.execute(f"CREATE INDEX IF NOT EXISTS {table}_listing ON {table} (workspace, created)")

    def apply(self, cursor: Cursor, facts: Sequence[Fact], suffix: str = "") -> None:
        """Fold a batch in memory, then write one row per post touched."""
        table = self.name + suffix
        rows: dict[str, dict[str, Any]] = {}
        for fact in facts:
            if fact.aggregate != "Post":
                continue
            values = changes(fact)
            if fact.name == "Drafted":
                rows[fact.post_id] = dict.fromkeys(COLUMNS) | values | {"created": fact.position}
            else:
                rows.setdefault(fact.post_id, {}).update(values)
            rows[fact.post_id]["version"] = fact.version  # the post's latest event, whatever it changed
        complete = [(post_id, row) for post_id, row in rows.items() if "workspace" in row]
        partial = [(post_id, row) for post_id, row in rows.items() if "workspace" not in row]
        if complete:
            names = ", ".join(COLUMNS)
            updates = ", ".join(f"{c} = excluded.{c}" for c in COLUMNS)
            cursor.executemany(
                f"INSERT INTO {table} (post_id, {names}) VALUES (%s{', %s' * len(COLUMNS)})"
                f" ON CONFLICT (post_id) DO UPDATE SET {updates}",
                [[post_id, *(row[c] for c in COLUMNS)] for post_id, row in complete],
            )
        by_columns: dict[tuple[str, ...], list[list[Any]]] = {}
        for post_id, row in partial:
            by_columns.setdefault(tuple(row), []).append([*row.values(), post_id])
        for columns, params in by_columns.items():
            update_rows(cursor, table, "post_id", columns, params, TYPES)

    # ── queries ───────────────────────────────────────────────────────────────

    def due(self, cursor: Cursor, now: datetime, limit: int, exclude_accounts: Sequence[str] = ()) -> list[DuePost]:
        """Queued posts due at or before `now`, oldest first, spread fairly across accounts.

        Fairness is taken among the oldest `CANDIDATES * limit` due posts (found through the
        (state, not_before) index), so the query costs the same with ten or a million posts
        waiting: each account's oldest candidate comes first, then each one's second, and so on.
        Accounts that may not send now are left out, so their backlog cannot fill the window."""
        skip = ""
        params: list[Any] = [instant(now)]
        if exclude_accounts:
            skip = f" AND account NOT IN ({', '.join(['%s'] * len(exclude_accounts))})"
            params += list(exclude_accounts)
        cursor.execute(
            "SELECT post_id, account, platform, workspace FROM ("
            " SELECT post_id, account, platform, workspace, not_before,"
            "  ROW_NUMBER() OVER (PARTITION BY account ORDER BY not_before) AS turn FROM ("
            "  SELECT post_id, account, platform, workspace, not_before FROM due_index"
            f"  WHERE state = 'queued' AND not_before <= %s{skip} ORDER BY not_before LIMIT %s"
            " ) AS oldest) AS due ORDER BY turn, not_before LIMIT %s",
            [*params, limit * CANDIDATES, limit],
        )
        return [DuePost(*row) for row in cursor.fetchall()]

    def expired_leases(self, cursor: Cursor, now: datetime, limit: int) -> list[str]:
        cursor.execute(
            "SELECT post_id FROM due_index WHERE state = 'dispatched' AND lease_until <= %s"
            " ORDER BY lease_until LIMIT %s",
            [instant(now), limit],
        )
        return [row[0] for row in cursor.fetchall()]

    def past_deadline(self, cursor: Cursor, now: datetime, limit: int) -> list[DuePost]:
        cursor.execute(
            "SELECT post_id, account, platform, workspace FROM due_index WHERE state = 'queued' AND deadline < %s"
            " LIMIT %s",
            [instant(now), limit],
        )
        return [DuePost(*row) for row in cursor.fetchall()]

    def ambiguous(self, cursor: Cursor, limit: int) -> list[str]:
        cursor.execute("SELECT post_id FROM due_index WHERE state = 'ambiguous' LIMIT %s", [limit])
        return [row[0] for row in cursor.fetchall()]

    def next_due(self, cursor: Cursor) -> datetime | None:
        cursor.execute("SELECT MIN(not_before) FROM due_index WHERE state = 'queued'")
        row = cursor.fetchone()
        return datetime.fromisoformat(row[0]) if row and row[0] else None

    def page(
        self, cursor: Cursor, workspace: str, after: int, limit: int, filters: dict[str, Any]
    ) -> list[tuple[str, int]]:
        """(post id, position) for one page of a workspace's posts, in creation order.

        Keyset pagination on the creation position: a page never repeats or skips a post,
        whatever is written meanwhile."""
        clauses, params = ["workspace = %s", "created > %s"], [workspace, after]
        for column in ("state", "account", "platform", "external_id"):
            if filters.get(column) is not None:
                clauses.append(f"{column} = %s")
                params.append(filters[column])
        if filters.get("scheduled_from") is not None:
            clauses.append("due_at >= %s")
            params.append(instant(filters["scheduled_from"]))
        if filters.get("scheduled_to") is not None:
            clauses.append("due_at < %s")
            params.append(instant(filters["scheduled_to"]))
        cursor.execute(
            f"SELECT post_id, created FROM due_index WHERE {' AND '.join(clauses)} ORDER BY created LIMIT %s",
            [*params, limit],
        )
        return [(row[0], int(row[1])) for row in cursor.fetchall()]

    def counts(self, cursor: Cursor) -> dict[str, int]:
        cursor.execute("SELECT state, COUNT(*) FROM due_index GROUP BY state")
        return {state: int(count) for state, count in cursor.fetchall()}
