"""Dispatchers that share the due posts instead of racing for them (PostgreSQL).

Accounts fall into 64 partitions, by a hash of workspace and account that PostgreSQL computes
in the due query. Each live dispatcher holds a session-level advisory lock on the connection
it LISTENs on, in a lock class of its schema; the live dispatchers are exactly those locks
(`pg_locks`). Partition p belongs to the (p mod n)-th of the n live dispatchers, in key
order, so every dispatcher derives the same split from the same set.

There is no lease to wait out: when a dispatcher stops, or is SIGKILLed, PostgreSQL ends its
session and drops its lock at once, and the others see it at their next look (every half
second); a dispatcher that joins is seen the same way. Across machines it is the same: one
PostgreSQL, whatever runs where. Exactly-once never rests on the split: the claim event
decides. A moment when two dispatchers disagree (one has looked, the other not yet) costs
a lost race or half a second of a partition nobody claims, never a second send.

A dispatcher that holds no lock (SQLite, or its LISTEN connection was lost) claims from
every partition, as one alone would.

The first live dispatcher in key order also folds the due index (`folds`); the others read
the table it keeps. When it goes, the next one folds from its next look on: for half a
second two may fold (harmless: each event still counts once) or none (the index waits).
"""

from __future__ import annotations

import threading
import time
import zlib
from typing import Any

PARTITIONS = 64
LOOK_EVERY = 0.5  # seconds between looks at who is live


def partition_filter(share: tuple[int, int] | None) -> tuple[str, list[Any]]:
    """The due query's condition for a dispatcher's share (index, count) of the partitions."""
    if share is None:
        return "", []
    index, count = share
    return (
        f" AND mod(hashtext(workspace || '/' || account)::bigint & {PARTITIONS - 1}, %s) = %s",
        [count, index],
    )


def lock_class(schema: str) -> int:
    """The advisory lock class of the dispatchers of one schema (one Herald store)."""
    return zlib.crc32(f"herald-dispatchers/{schema}".encode()) & 0x7FFFFFFF


LIVE = (
    "SELECT objid::bigint FROM pg_locks WHERE locktype = 'advisory' AND granted"
    " AND classid::bigint = %s AND objsubid = 2"
    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    " ORDER BY objid::bigint"
)


class Partitions:
    """This dispatcher's place among the live ones: `share()` is (its index, how many), or
    None when it should claim from every partition."""

    def __init__(self, conn: Any, pool: Any, schema: str, worker: str, clock: Any = time.monotonic) -> None:
        self.pool = pool
        self.clock = clock
        self.lock_class = lock_class(schema)
        from psycopg.rows import tuple_row

        key = zlib.crc32(worker.encode()) & 0x7FFFFFFF
        # on the LISTEN connection, held for the process's life: the lock lives as long as it
        with conn.cursor(row_factory=tuple_row) as cursor:
            while not cursor.execute(
                "SELECT pg_try_advisory_lock(%s::int4, %s::int4)", [self.lock_class, key]
            ).fetchone()[0]:
                key = (key + 1) & 0x7FFFFFFF  # two workers whose names hash alike: the next key
        self.key = key
        self._share: tuple[int, int] | None = None
        self._looked = float("-inf")
        self._guard = threading.Lock()

    def live(self) -> list[int]:
        """The keys of the live dispatchers, in order."""
        from psycopg.rows import tuple_row

        with self.pool.connection() as conn, conn.cursor(row_factory=tuple_row) as cursor:
            rows = cursor.execute(LIVE, [self.lock_class]).fetchall()
        return [int(row[0]) for row in rows]

    def folds(self) -> bool:
        """Whether this dispatcher folds the due index: the first live one, or one alone."""
        share = self.share()
        return share is None or share[0] == 0

    def share(self) -> tuple[int, int] | None:
        with self._guard:
            if self.clock() - self._looked >= LOOK_EVERY:
                keys = self.live()
                self._looked = self.clock()
                self._share = (keys.index(self.key), len(keys)) if self.key in keys and len(keys) > 1 else None
            return self._share
