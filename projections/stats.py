"""Stats for analysts: per account, platform and UTC day of the event.

Counts live in `post_stats` (one row per account, platform, day), failures by reason in
`post_failures`, and each delivered post's lateness (delivered instant minus due instant) in
`post_lateness`, so percentiles are computed exactly at query time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from projections.facts import Fact, fixed
from projections.read_store import Cursor

COUNTERS = ("scheduled", "delivered", "failed", "canceled", "reconciled", "attempts")


def counter_for(fact: Fact) -> list[str]:
    """Which counters an event bumps (the pure fold)."""
    if fact.name == "Scheduled":
        return ["scheduled"]
    if fact.name == "DispatchClaimed":
        return ["attempts"]
    if fact.name == "Delivered":
        return ["delivered", "reconciled"] if fact.data["reconciled"] else ["delivered"]
    if fact.name == "Failed":
        return ["failed"]
    if fact.name == "Canceled":
        return ["canceled"]
    return []


def seconds_between(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


class Stats:
    name = "stats"
    tables = ("post_stats", "post_failures", "post_lateness", "post_targets")

    def create(self, cursor: Cursor, suffix: str = "") -> None:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS post_stats{suffix} (account TEXT NOT NULL, platform TEXT NOT NULL,"
            f" day TEXT NOT NULL, {', '.join(f'{c} INTEGER NOT NULL DEFAULT 0' for c in COUNTERS)},"
            " PRIMARY KEY (account, platform, day))"
        )
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS post_failures{suffix} (account TEXT NOT NULL, platform TEXT NOT NULL,"
            " day TEXT NOT NULL, reason TEXT NOT NULL, failures INTEGER NOT NULL,"
            " PRIMARY KEY (account, platform, day, reason))"
        )
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS post_lateness{suffix} (post_id TEXT PRIMARY KEY, account TEXT NOT NULL,"
            " platform TEXT NOT NULL, day TEXT NOT NULL, seconds DOUBLE PRECISION NOT NULL)"
        )
        # what each post targets and when it is due: the later events do not repeat it
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS post_targets{suffix} (post_id TEXT PRIMARY KEY, account TEXT NOT NULL,"
            " platform TEXT NOT NULL, due_at TEXT)"
        )

    def apply(self, cursor: Cursor, facts: Sequence[Fact], suffix: str = "") -> None:
        targets: dict[str, list[Any]] = {}
        new_targets: dict[str, list[Any]] = {}
        counts: Counter[tuple[str, str, str, str]] = Counter()
        failures: Counter[tuple[str, str, str, str]] = Counter()
        lateness: list[list[Any]] = []
        for fact in facts:
            if fact.aggregate != "Post":
                continue
            if fact.name == "Drafted":
                target = [fact.data["account"], fact.data["platform"], None]
                targets[fact.post_id] = new_targets[fact.post_id] = target
                continue
            target = targets.get(fact.post_id) or self._target(cursor, suffix, fact.post_id)
            targets[fact.post_id] = target
            if fact.name in ("Scheduled", "Rescheduled"):
                target[2] = fixed(fact.data["due_at"])
                new_targets[fact.post_id] = target
            account, platform, due_at = target
            day = fact.at[:10]
            for name in counter_for(fact):
                counts[(account, platform, day, name)] += 1
            if fact.name == "Failed":
                failures[(account, platform, day, fact.data["reason"])] += 1
            if fact.name == "Delivered" and due_at:
                lateness.append([fact.post_id, account, platform, day, seconds_between(due_at, fact.at)])
        self._write(cursor, suffix, new_targets, counts, failures, lateness)

    @staticmethod
    def _target(cursor: Cursor, suffix: str, post_id: str) -> list[Any]:
        cursor.execute(f"SELECT account, platform, due_at FROM post_targets{suffix} WHERE post_id = %s", [post_id])
        found = cursor.fetchone()
        return list(found) if found else ["?", "?", None]

    @staticmethod
    def _write(
        cursor: Cursor,
        suffix: str,
        targets: dict[str, list[Any]],
        counts: Counter[tuple[str, str, str, str]],
        failures: Counter[tuple[str, str, str, str]],
        lateness: list[list[Any]],
    ) -> None:
        if targets:
            cursor.executemany(
                f"INSERT INTO post_targets{suffix} (post_id, account, platform, due_at) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (post_id) DO UPDATE SET due_at = excluded.due_at",
                [[post_id, *target] for post_id, target in targets.items()],
            )
        for name in COUNTERS:
            rows = [[a, p, d, n] for (a, p, d, c), n in counts.items() if c == name]
            if rows:
                cursor.executemany(
                    f"INSERT INTO post_stats{suffix} (account, platform, day, {name}) VALUES (%s, %s, %s, %s)"
                    f" ON CONFLICT (account, platform, day) DO UPDATE SET {name} = post_stats{suffix}.{name}"
                    f" + excluded.{name}",
                    rows,
                )
        if failures:
            cursor.executemany(
                f"INSERT INTO post_failures{suffix} (account, platform, day, reason, failures)"
                " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (account, platform, day, reason)"
                f" DO UPDATE SET failures = post_failures{suffix}.failures + excluded.failures",
                [[*key, n] for key, n in failures.items()],
            )
        if lateness:
            cursor.executemany(
                f"INSERT INTO post_lateness{suffix} (post_id, account, platform, day, seconds)"
                " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (post_id) DO NOTHING",
                lateness,
            )

    # ── queries ───────────────────────────────────────────────────────────────

    def report(self, cursor: Cursor, day: str | None = None) -> list[dict[str, Any]]:
        """One dict per account, platform and day, with failures by reason and lateness percentiles."""
        where, params = ("", []) if day is None else (" WHERE day = %s", [day])
        cursor.execute(
            f"SELECT account, platform, day, {', '.join(COUNTERS)} FROM post_stats{where}"
            " ORDER BY day, account, platform",
            params,
        )
        report = [
            dict(zip(("account", "platform", "day", *COUNTERS), found, strict=True)) for found in cursor.fetchall()
        ]
        cursor.execute(f"SELECT account, platform, day, reason, failures FROM post_failures{where}", params)
        reasons: dict[tuple[str, str, str], dict[str, int]] = {}
        for account, platform, on, reason, n in cursor.fetchall():
            reasons.setdefault((account, platform, on), {})[reason] = int(n)
        cursor.execute(f"SELECT account, platform, day, seconds FROM post_lateness{where}", params)
        late: dict[tuple[str, str, str], list[float]] = {}
        for account, platform, on, seconds in cursor.fetchall():
            late.setdefault((account, platform, on), []).append(float(seconds))
        for entry in report:
            key = (entry["account"], entry["platform"], entry["day"])
            entry["failed_by_reason"] = reasons.get(key, {})
            values = sorted(late.get(key, []))
            entry["lateness_p50"] = percentile(values, 0.50)
            entry["lateness_p99"] = percentile(values, 0.99)
        return report


def percentile(values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile of sorted `values` (None when empty)."""
    if not values:
        return None
    rank = max(1, -(-int(fraction * 1000) * len(values) // 1000))
    return values[min(rank, len(values)) - 1]
