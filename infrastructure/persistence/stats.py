"""The analysts' stats tables and their report."""

from __future__ import annotations

from collections import Counter
from typing import Any

from infrastructure.persistence.connections import Cursor, ReadStore
from projections.stats import COUNTERS, Key, percentile


def create(cursor: Cursor, suffix: str = "") -> None:
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


class StatsWriter:
    def __init__(self, cursor: Cursor, suffix: str = "") -> None:
        self.cursor = cursor
        self.suffix = suffix

    def target(self, post_id: str) -> list[Any]:
        self.cursor.execute(
            f"SELECT account, platform, due_at FROM post_targets{self.suffix} WHERE post_id = %s", [post_id]
        )
        found = self.cursor.fetchone()
        return list(found) if found else ["?", "?", None]

    def write(
        self, targets: dict[str, list[Any]], counts: Counter[Key], failures: Counter[Key], lateness: list[list[Any]]
    ) -> None:
        cursor, suffix = self.cursor, self.suffix
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


class SqlStats:
    def __init__(self, store: ReadStore) -> None:
        self.store = store

    def report(self, day: str | None = None) -> list[dict[str, Any]]:
        where, params = ("", []) if day is None else (" WHERE day = %s", [day])
        with self.store.reading() as cursor:
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
