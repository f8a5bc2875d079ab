"""The raw limit: the least database work per post with psycopg alone, no HTTP.

Per post, the same rows Herald appends (scheduled, claimed, outcome), in the same transaction
pattern (claims for a batch in one transaction, outcomes for the batch in another), found by
the simplest due query. `workers` threads work at once, as Herald's dispatchers do.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import psycopg

from scripts.benchmarks.common import POSTGRES, Result

BATCH = 200


def burst(schema: str, n: int, accounts: int, workers: int) -> Result:
    with psycopg.connect(POSTGRES, autocommit=True) as conn:
        conn.execute(f'SET search_path TO "{schema}"')  # type: ignore[arg-type]
        conn.execute("CREATE TABLE posts (id BIGSERIAL PRIMARY KEY, account TEXT, due_at TIMESTAMPTZ, state TEXT)")
        conn.execute("CREATE INDEX posts_due ON posts (state, due_at)")
        conn.execute(
            "CREATE TABLE events (post_id BIGINT, version INT, kind TEXT, at TIMESTAMPTZ, body JSONB,"
            " PRIMARY KEY (post_id, version))"
        )
        due = datetime.now(UTC)
        with conn.transaction():
            ids = [
                row[0]
                for row in conn.execute(
                    "INSERT INTO posts (account, due_at, state) SELECT 'acct-' || (g %% %s), %s, 'queued'"
                    " FROM generate_series(1, %s) g RETURNING id",
                    [accounts, due, n],
                ).fetchall()
            ]
            with conn.cursor().copy("COPY events (post_id, version, kind, at, body) FROM STDIN") as copy:
                for post_id in ids:
                    copy.write_row([post_id, 1, "Scheduled", due, '{"text": "burst"}'])

    def work() -> None:
        with psycopg.connect(POSTGRES) as conn:
            conn.execute(f'SET search_path TO "{schema}"')  # type: ignore[arg-type]
            while True:
                with conn.transaction():
                    claimed = [
                        r[0]
                        for r in conn.execute(
                            "UPDATE posts SET state = 'dispatched' WHERE id IN (SELECT id FROM posts"
                            " WHERE state = 'queued' AND due_at <= now() ORDER BY due_at LIMIT %s"
                            " FOR UPDATE SKIP LOCKED) RETURNING id",
                            [BATCH],
                        ).fetchall()
                    ]
                    conn.cursor().executemany(
                        "INSERT INTO events VALUES (%s, 2, 'DispatchClaimed', now(), '{}')", [[i] for i in claimed]
                    )
                if not claimed:
                    return
                with conn.transaction():
                    conn.execute("UPDATE posts SET state = 'delivered' WHERE id = ANY(%s)", [claimed])
                    conn.cursor().executemany(
                        "INSERT INTO events VALUES (%s, 3, 'Delivered', now(), '{}')", [[i] for i in claimed]
                    )

    began = time.monotonic()
    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.monotonic() - began
    return Result("burst", "raw", {"posts": n, "seconds": seconds, "posts_per_s": n / seconds, "duplicates": 0})
