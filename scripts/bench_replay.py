"""Replay speed and `herald verify` against the raw scan of the same events table, and timeline look-up latency.

Run: .venv/bin/python scripts/bench_replay.py [--events 1000000] [--repeats 3] [--stores sqlite,postgres]
For each store: generates the events (tests/generate.py), times a raw SELECT scan of the events
table in the same batches, then replays the due index and the timeline; prints medians and the
replay/raw ratio. Then times 1,000 timeline look-ups of a post with 20 events (p50, p99).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg

from domain.content import Content, Platform
from domain.decisions import RetryPolicy
from domain.outcomes import Observation, Observed
from domain.post import Post
from infrastructure.bootstrap import Herald, bootstrap
from infrastructure.persistence.replay import replay
from infrastructure.verify import verify
from projections.catalog import PROJECTIONS
from projections.timeline import summary
from tests.generate import generate

BATCH = 5000


def raw_scan(service: Herald) -> float:
    """Seconds to read every event row in batches of BATCH, with the driver alone."""
    env = service.env
    sql = "SELECT notification_id, originator_id, originator_version, topic, state FROM {t}"
    sql += " WHERE notification_id > {p} ORDER BY notification_id LIMIT {n}"
    start = time.perf_counter()
    if env["PERSISTENCE_MODULE"] == "eventsourcing.sqlite":
        conn = sqlite3.connect(env["SQLITE_DBNAME"])
        position, table = 0, "stored_events"
        lite = sql.replace("notification_id", "rowid")
        while rows := conn.execute(lite.format(t=table, p=position, n=BATCH)).fetchall():
            position = rows[-1][0]
        conn.close()
    else:
        with psycopg.connect(
            dbname=env["POSTGRES_DBNAME"],
            host=env["POSTGRES_HOST"],
            port=env["POSTGRES_PORT"],
            user=env["POSTGRES_USER"],
        ) as conn:
            position, table = 0, f'"{env["POSTGRES_SCHEMA"]}".herald_events'
            while rows := conn.execute(sql.format(t=table, p=position, n=BATCH)).fetchall():  # type: ignore[arg-type]
                position = rows[-1][0]
    return time.perf_counter() - start


def twenty_event_post(service: Herald) -> str:
    now = datetime(2026, 11, 2, tzinfo=UTC)
    post = Post.draft(
        post_id=uuid.uuid4(),
        workspace="w",
        account="bench",
        platform=Platform.X,
        content=Content(text="a long life"),
        external_id="bench-20",
        grace=timedelta(days=1),
        freeze=timedelta(0),
        now=now,
    )
    post.schedule(now + timedelta(minutes=1), now=now)
    policy = RetryPolicy(base_seconds=1, cap_seconds=2, max_attempts=50)
    now += timedelta(minutes=1)
    while post.version < 18:
        post.claim(worker="w", lease=timedelta(seconds=30), now=now)
        post.record_outcome(
            attempt=post.attempt,
            observed=Observed(kind=Observation.SERVER_ERROR, http_status=503),
            policy=policy,
            seed=post.attempt,
            now=now,
        )
        now += timedelta(seconds=3)
    post.claim(worker="w", lease=timedelta(seconds=30), now=now)
    accepted = Observed(kind=Observation.ACCEPTED, http_status=201, remote_id="r-20")
    post.record_outcome(attempt=post.attempt, observed=accepted, policy=policy, seed=0, now=now)
    service.events.save(post)
    assert post.version == 20
    return str(post.id)


def bench_store(url: str, events: int, repeats: int) -> dict[str, float]:
    service = bootstrap(url)
    generate(service, events, accounts=1000, show=True)
    post_id = twenty_event_post(service)
    total = service.events.recorder.max_notification_id() or 0
    result: dict[str, float] = {"events": float(total)}
    raw = statistics.median(raw_scan(service) for _ in range(repeats))
    result["raw scan (events/s)"] = total / raw
    for name in ("due_index", "timeline"):
        projection = PROJECTIONS[name]()
        service.runner(projection)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            replay(service.projections, projection, batch_size=BATCH)
            times.append(time.perf_counter() - start)
        result[f"replay {name} (events/s)"] = total / statistics.median(times)
        result[f"replay {name} / raw"] = raw / statistics.median(times)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        checked = verify(service)
        times.append(time.perf_counter() - start)
        assert not checked.mismatches, checked.mismatches[:3]
    result["verify (events/s)"] = total / statistics.median(times)
    result["verify / raw"] = raw / statistics.median(times)
    result["verify decisions"] = float(checked.checked)
    latencies = []
    for _ in range(1000):
        start = time.perf_counter()
        rows = service.timeline.rows(post_id)
        summary(rows)
        latencies.append(time.perf_counter() - start)
    assert len(rows) == 20
    latencies.sort()
    result["timeline look-up p50 (ms)"] = latencies[499] * 1000
    result["timeline look-up p99 (ms)"] = latencies[989] * 1000
    service.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--postgres", default="postgresql://root@127.0.0.1:5432/test")
    args = parser.parse_args()
    results = {}
    for store in args.stores.split(","):
        if store == "sqlite":
            with tempfile.TemporaryDirectory() as folder:
                results["sqlite"] = bench_store(f"sqlite:///{folder}/bench.db", args.events, args.repeats)
        else:
            schema = f"bench_{uuid.uuid4().hex[:8]}"
            try:
                results["postgres"] = bench_store(f"{args.postgres}?schema={schema}", args.events, args.repeats)
            finally:
                with psycopg.connect(args.postgres, autocommit=True) as conn:
                    conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')  # type: ignore[arg-type]
    for store, rows in results.items():
        for label, value in rows.items():
            print(f"| {store} | {label} | {value:,.2f} |")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
