"""The webhook outbox's tables and queries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from infrastructure.persistence.connections import Cursor, ReadStore
from projections.facts import utc_text
from projections.webhook_outbox import Pending


def create(cursor: Cursor, suffix: str = "") -> None:
    cursor.execute(
        f"CREATE TABLE IF NOT EXISTS webhook_subjects{suffix} (aggregate_id TEXT PRIMARY KEY, workspace TEXT,"
        " name TEXT)"
    )
    cursor.execute(
        f"CREATE TABLE IF NOT EXISTS webhook_outbox{suffix} (delivery_id TEXT PRIMARY KEY, workspace TEXT,"
        " state TEXT NOT NULL, next_attempt_at TEXT, planned_at TEXT NOT NULL)"
    )
    cursor.execute(
        f"CREATE INDEX IF NOT EXISTS webhook_outbox{suffix}_due ON webhook_outbox{suffix} (state, next_attempt_at)"
    )
    # each fan-out plan's posts, and how each ended: the last to end announces plan.completed
    cursor.execute(
        f"CREATE TABLE IF NOT EXISTS webhook_plans{suffix} (post_id TEXT PRIMARY KEY, plan_id TEXT NOT NULL,"
        " ended TEXT)"
    )
    cursor.execute(f"CREATE INDEX IF NOT EXISTS webhook_plans{suffix}_plan ON webhook_plans{suffix} (plan_id)")
    # announcements waiting to be planned: planning appends events, which on SQLite must wait
    # until this projection's transaction has committed
    cursor.execute(
        f"CREATE TABLE IF NOT EXISTS webhook_pending{suffix} (delivery_id TEXT PRIMARY KEY, workspace TEXT,"
        " endpoint_id TEXT, url TEXT, event_type TEXT, subject TEXT, payload TEXT)"
    )


class OutboxWriter:
    def __init__(self, cursor: Cursor, suffix: str = "") -> None:
        self.cursor = cursor
        self.suffix = suffix

    def remember_subject(self, aggregate_id: str, workspace: str, name: str | None) -> None:
        self.cursor.execute(
            f"INSERT INTO webhook_subjects{self.suffix} (aggregate_id, workspace, name) VALUES (%s, %s, %s)"
            " ON CONFLICT (aggregate_id) DO NOTHING",
            [aggregate_id, workspace, name],
        )

    def subject(self, aggregate_id: str) -> tuple[str, str | None] | None:
        self.cursor.execute(
            f"SELECT workspace, name FROM webhook_subjects{self.suffix} WHERE aggregate_id = %s", [aggregate_id]
        )
        found = self.cursor.fetchone()
        return (found[0], found[1]) if found else None

    def remember_plan(self, plan_id: str, post_ids: Sequence[str]) -> None:
        self.cursor.executemany(
            f"INSERT INTO webhook_plans{self.suffix} (post_id, plan_id, ended) VALUES (%s, %s, NULL)"
            " ON CONFLICT (post_id) DO NOTHING",
            [[post_id, plan_id] for post_id in post_ids],
        )

    def plan_post_ended(self, post_id: str, state: str) -> tuple[str, dict[str, int]] | None:
        self.cursor.execute(
            f"UPDATE webhook_plans{self.suffix} SET ended = %s WHERE post_id = %s AND ended IS NULL RETURNING plan_id",
            [state, post_id],
        )
        found = self.cursor.fetchone()
        if not found:
            return None  # a post of no plan, or one that ended before (a fold repeated)
        self.cursor.execute(
            f"SELECT ended, COUNT(*) FROM webhook_plans{self.suffix} WHERE plan_id = %s GROUP BY ended", [found[0]]
        )
        counts = {ended: count for ended, count in self.cursor.fetchall()}
        return None if None in counts else (found[0], counts)

    def announce(self, pending: Pending) -> None:
        self.cursor.execute(
            f"INSERT INTO webhook_pending{self.suffix} (delivery_id, workspace, endpoint_id, url, event_type,"
            " subject, payload) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (delivery_id) DO NOTHING",
            [
                pending.delivery_id,
                pending.workspace,
                pending.endpoint_id,
                pending.url,
                pending.event_type,
                pending.subject,
                pending.payload,
            ],
        )

    def planned(self, delivery: str, workspace: str, at: str) -> None:
        self.cursor.execute(
            f"INSERT INTO webhook_outbox{self.suffix} (delivery_id, workspace, state, next_attempt_at, planned_at)"
            " VALUES (%s, %s, 'pending', %s, %s) ON CONFLICT (delivery_id) DO NOTHING",
            [delivery, workspace, at, at],
        )

    def attempted(self, delivery: str, state: str, retry_at: str | None) -> None:
        self.cursor.execute(
            f"UPDATE webhook_outbox{self.suffix} SET state = %s, next_attempt_at = %s WHERE delivery_id = %s",
            [state, retry_at, delivery],
        )

    def resent(self, delivery: str, at: str) -> None:
        self.cursor.execute(
            f"UPDATE webhook_outbox{self.suffix} SET state = 'pending', next_attempt_at = %s WHERE delivery_id = %s",
            [at, delivery],
        )


class SqlOutbox:
    """The outbox's queries (`projections.webhook_outbox.OutboxView`)."""

    def __init__(self, store: ReadStore) -> None:
        self.store = store

    def due(self, now: datetime, limit: int) -> list[str]:
        with self.store.reading() as cursor:
            cursor.execute(
                "SELECT delivery_id FROM webhook_outbox WHERE state = 'pending' AND next_attempt_at <= %s"
                " ORDER BY next_attempt_at LIMIT %s",
                [utc_text(now), limit],
            )
            return [row[0] for row in cursor.fetchall()]

    def pending(self, limit: int) -> list[Pending]:
        with self.store.reading() as cursor:
            cursor.execute(
                "SELECT delivery_id, workspace, endpoint_id, url, event_type, subject, payload FROM webhook_pending"
                " LIMIT %s",
                [limit],
            )
            return [Pending(*row) for row in cursor.fetchall()]

    def forget_pending(self, delivery_ids: list[str]) -> None:
        if delivery_ids:
            with self.store.transaction() as cursor:
                cursor.executemany("DELETE FROM webhook_pending WHERE delivery_id = %s", [[d] for d in delivery_ids])

    def planned_since(self, since: datetime, workspace: str | None) -> list[str]:
        clause, params = (
            ("", [utc_text(since)]) if workspace is None else (" AND workspace = %s", [utc_text(since), workspace])
        )
        with self.store.reading() as cursor:
            cursor.execute(f"SELECT delivery_id FROM webhook_outbox WHERE planned_at >= %s{clause}", params)
            return [row[0] for row in cursor.fetchall()]
