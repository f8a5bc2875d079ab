"""Saves per second on SQLite and PostgreSQL, single and batched; orjson vs the library's JSON.

Run: .venv/bin/python scripts/bench_store.py [--n 2000] [--repeats 3] [--postgres URL]
Prints medians of the repeats. Absolute numbers on a shared 2-core machine are noisy.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent.parent))

import psycopg
from eventsourcing.persistence import JSONTranscoder

from domain.content import Content
from domain.post import Post
from infrastructure.bootstrap import Herald, bootstrap
from infrastructure.encoding import OrjsonTranscoder, PydanticMapper
from services.results import PostSettings
from tests.clock import ManualClock


def median_rate(repeats: int, run: Callable[[], tuple[int, float]]) -> float:
    rates = []
    for _ in range(repeats):
        count, seconds = run()
        rates.append(count / seconds)
    return statistics.median(rates)


def new_posts(service: Herald, clock: ManualClock, n: int) -> list[Post]:
    posts = []
    for i in range(n):
        post = service.posts.new_post("acme", "mastodon", Content(text=f"post {i}"), None, "w", None)
        post.schedule(clock.now + timedelta(minutes=1), now=clock())
        posts.append(post)
    return posts


def bench_saves(url: str, n: int, repeats: int) -> dict[str, float]:
    clock = ManualClock(datetime(2026, 11, 23, 9, tzinfo=UTC))
    service = bootstrap(url, clock=clock, settings=PostSettings())

    def single() -> tuple[int, float]:
        posts = new_posts(service, clock, n)
        start = time.perf_counter()
        for post in posts:
            service.events.save(post)
        return n, time.perf_counter() - start

    def batched() -> tuple[int, float]:
        posts = new_posts(service, clock, n)
        start = time.perf_counter()
        for i in range(0, n, 100):
            service.events.save(*posts[i : i + 100])
        return n, time.perf_counter() - start

    def claim_many() -> tuple[int, float]:
        posts = new_posts(service, clock, n)
        for i in range(0, n, 100):
            service.events.save(*posts[i : i + 100])
        clock.advance(minutes=1)
        start = time.perf_counter()
        for i in range(0, n, 100):
            results = service.dispatch.claim_many([p.id for p in posts[i : i + 100]], worker="bench")
            assert all(r.ok for r in results)
        return n, time.perf_counter() - start

    result = {
        "one aggregate per save (aggregates/s)": median_rate(repeats, single),
        "100 aggregates per save (aggregates/s)": median_rate(repeats, batched),
        "claim_many, batches of 100 (claims/s)": median_rate(repeats, claim_many),
    }
    service.close()
    return result


def bench_encoding(n: int, repeats: int) -> dict[str, float]:
    clock = ManualClock()
    post = Post.draft(
        post_id=uuid.uuid4(),
        workspace="w",
        account="acme",
        platform="x",  # type: ignore[arg-type]
        content=Content(text="Launch day! " * 10),
        external_id="crm-1",
        grace=timedelta(hours=1),
        freeze=timedelta(minutes=1),
        now=clock(),
    )
    post.schedule(clock.now + timedelta(hours=1), now=clock())
    clock.advance(hours=1)
    post.claim(worker="w1", lease=timedelta(seconds=30), now=clock())
    events = list(post.collect_events())
    rates = {}
    for name, transcoder in (
        ("library JSONTranscoder", JSONTranscoder()),
        ("orjson", OrjsonTranscoder()),
    ):
        mapper = PydanticMapper(transcoder=transcoder)

        def round_trip(mapper: PydanticMapper = mapper) -> tuple[int, float]:
            start = time.perf_counter()
            for _ in range(n):
                for event in events:
                    mapper.to_domain_event(mapper.to_stored_event(event))
            return n * len(events), time.perf_counter() - start

        rates[f"{name} (events encoded+decoded/s)"] = median_rate(repeats, round_trip)
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="posts per measurement")
    parser.add_argument("--repeats", type=int, default=3, help="repeats; the median is printed")
    parser.add_argument("--postgres", default="postgresql://root@127.0.0.1:5432/test")
    args = parser.parse_args()

    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        results["sqlite"] = bench_saves(f"sqlite:///{folder}/bench.db", args.n, args.repeats)
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    try:
        results["postgres"] = bench_saves(f"{args.postgres}?schema={schema}", args.n, args.repeats)
    finally:
        with psycopg.connect(args.postgres, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    results["encoding"] = bench_encoding(args.n, args.repeats)
    for store, rows in results.items():
        for label, rate in rows.items():
            print(f"| {store} | {label} | {rate:,.0f} |")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
