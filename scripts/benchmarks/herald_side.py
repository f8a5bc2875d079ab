"""Herald's side of each scenario: real dispatcher processes on PostgreSQL, the simulator."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg

from domain.content import Content
from infrastructure.bootstrap import bootstrap
from scripts.benchmarks.common import (
    POSTGRES,
    Result,
    admin,
    cpu_seconds,
    duplicates,
    percentile,
    postgres_pids,
    stop_all,
    wait_until,
)
from services.results import PostSettings
from tests.processes import start_dispatcher

WORKER_ENV = {"HERALD_LEASE_SECONDS": "60", "HERALD_LOG_FORMAT": "json"}  # as in production: a log shipper reads JSON


def settled(schema: str) -> int:
    with psycopg.connect(POSTGRES, autocommit=True) as conn:
        row = conn.execute(
            f"SELECT COUNT(*) FROM \"{schema}\".herald_events WHERE topic LIKE '%%Post.Delivered'"  # type: ignore[arg-type]
            " OR topic LIKE '%%Post.Failed'"
        ).fetchone()
    return int(row[0]) if row else 0


def dispatchers(url: str, platform_url: str, count: int) -> list[Any]:
    batch = os.environ.get("HERALD_BENCH_BATCH", "200")  # posts claimed per transaction
    ahead = os.environ.get("HERALD_BENCH_CLAIM_AHEAD", "1")  # seconds; 0 for the A/B of claiming ahead
    return [
        start_dispatcher(
            url,
            platform_url,
            f"bench-{n}",
            "--batch-size",
            batch,
            "--in-flight",
            "128",
            "--timeout",
            "10",
            "--claim-ahead",
            ahead,
            **WORKER_ENV,
        )
        for n in range(count)
    ]


def scheduling_rate(service: Any) -> float:
    """Posts scheduled per second on this machine now, from 1,000 posts due in a day (never
    sent during the run): the burst's margin follows it, so a loaded machine still schedules
    every post before the instant it names."""
    later = datetime.now(UTC) + timedelta(days=1)
    began = time.monotonic()
    service.posts.schedule_many(
        [
            {
                "account": f"probe-{i}",
                "platform": "mastodon",
                "content": Content(text=f"probe {i}"),
                "scheduled_at": later,
            }
            for i in range(1000)
        ]
    )
    return 1000 / (time.monotonic() - began)


def burst(schema: str, platform_url: str, n: int, accounts: int, workers: int) -> Result:
    """N posts due at one instant across many accounts: time until all are delivered."""
    url = f"{POSTGRES}?schema={schema}"
    service = bootstrap(url, settings=PostSettings(grace=timedelta(hours=1), freeze=timedelta(0)))
    due = datetime.now(UTC) + timedelta(seconds=5 + n / (scheduling_rate(service) / 2))
    for start in range(0, n, 1000):
        service.posts.schedule_many(
            [
                {
                    "account": f"acct-{i % accounts}",
                    "platform": "mastodon",
                    "content": Content(text=f"burst {i}"),
                    "scheduled_at": due,
                }
                for i in range(start, min(n, start + 1000))
            ]
        )
    processes = dispatchers(url, platform_url, workers)
    try:
        time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()))  # until the burst falls due
        cpu = cpu_seconds([p.pid for p in processes]), cpu_seconds(postgres_pids())
        seconds = wait_until(lambda: settled(schema) >= n, limit=1800, poll=0.2)
        spent = cpu_seconds([p.pid for p in processes]) - cpu[0], cpu_seconds(postgres_pids()) - cpu[1]
    finally:
        stop_all(processes)
        service.close()
    held, repeats = duplicates(platform_url)
    return Result(
        "burst",
        "herald",
        {
            "posts": n,
            "seconds": seconds,
            "posts_per_s": n / seconds,
            "published": held,
            "duplicates": repeats,
            "dispatcher_cpu_ms": spent[0] / n * 1000,  # CPU per post, all dispatchers together
            "postgres_cpu_ms": spent[1] / n * 1000,
        },
    )


def lag(schema: str, platform_url: str, rate: int, seconds: float, workers: int, lead: float = 0.0) -> Result:
    """A steady arrival of `rate` posts, every 10 ms, each due `lead` seconds after it is
    scheduled (0: published now): the instant the platform received it minus its due instant."""
    url = f"{POSTGRES}?schema={schema}"
    service = bootstrap(url, settings=PostSettings(grace=timedelta(hours=1), freeze=timedelta(0)))
    processes = dispatchers(url, platform_url, workers)
    ids: list[UUID] = []
    try:
        time.sleep(3)  # the dispatchers boot
        began = time.monotonic()
        sent = 0
        while (elapsed := time.monotonic() - began) < seconds:
            owed = int(elapsed * rate) - sent
            if owed > 0:
                due = {"scheduled_at": datetime.now(UTC) + timedelta(seconds=lead)} if lead else {}
                ids += service.posts.schedule_many(
                    [
                        {
                            "account": f"acct-{(sent + i) % 500}",
                            "platform": "mastodon",
                            "content": Content(text=f"steady {sent + i}"),
                            **due,
                        }
                        for i in range(owed)
                    ]
                )
                sent += owed
            time.sleep(0.01)
        wait_until(lambda: settled(schema) >= len(ids), limit=600, poll=0.2)
    finally:
        stop_all(processes)
    truth = admin(platform_url, "/admin/truth")["posts"]
    received = {post["text"]: datetime.fromisoformat(post["created_at"]) for post in truth}
    lags = []
    for post_id in ids:
        records = service.posts.history(post_id)
        due = datetime.fromisoformat(next(r for r in records if r.name == "Scheduled").data["due_at"])
        text = next(r for r in records if r.name == "Drafted").data["content"]["text"]
        lags.append((received[text] - due).total_seconds() * 1000)
    service.close()
    return Result(
        "lag",
        "herald",
        {
            "posts": len(ids),
            "rate": rate,
            "lead_s": lead,
            "p50_ms": percentile(lags, 0.5),
            "p99_ms": percentile(lags, 0.99),
            "max_ms": max(lags),
        },
    )
