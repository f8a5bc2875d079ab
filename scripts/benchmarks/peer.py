"""The peer: procrastinate, the PostgreSQL job queue a user would pick instead of Herald.

Configured fairly: one job per post, whose task POSTs to the same simulator endpoint Herald's
generic route uses (with the same publish key); as many worker processes as Herald has
dispatchers, each with the same concurrency as a dispatcher's requests in flight (128), with
LISTEN/NOTIFY on (procrastinate's default) so jobs are picked up as soon as they are deferred.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import psycopg
from procrastinate import App, PsycopgConnector

from scripts.benchmarks.common import POSTGRES, Result, duplicates, percentile, stop_all, wait_until

ROOT = Path(__file__).resolve().parents[2]
CONCURRENCY = 128


def make_app(schema: str) -> App:
    app = App(connector=PsycopgConnector(conninfo=POSTGRES, kwargs={"options": f"-c search_path={schema}"}))
    session: dict[str, aiohttp.ClientSession] = {}

    @app.task(name="publish")
    async def publish(account: str, text: str, key: str) -> None:
        if "s" not in session:
            session["s"] = aiohttp.ClientSession()
        url = f"{os.environ['PEER_PLATFORM_URL']}/v1/accounts/{account}/posts"
        async with session["s"].post(
            url, json={"text": text, "publish_key": key}, timeout=aiohttp.ClientTimeout(total=10)
        ) as answer:
            answer.raise_for_status()

    return app


def work(schema: str) -> None:
    """A worker process: runs until stopped."""
    app = make_app(schema)

    async def run() -> None:
        async with app.open_async():
            await app.run_worker_async(concurrency=CONCURRENCY, wait=True)

    asyncio.run(run())


def prepare(schema: str) -> App:
    app = make_app(schema)
    with app.open():
        app.schema_manager.apply_schema()
    return app


def defer(schema: str, items: list[dict[str, Any]]) -> None:
    app = make_app(schema)

    async def run() -> None:
        async with app.open_async():
            task = app.tasks["publish"]
            for start in range(0, len(items), 1000):
                await task.batch_defer_async(*items[start : start + 1000])

    asyncio.run(run())


def succeeded(schema: str) -> int:
    with psycopg.connect(POSTGRES, autocommit=True) as conn:
        row = conn.execute(
            f"SELECT COUNT(*) FROM \"{schema}\".procrastinate_jobs WHERE status = 'succeeded'"  # type: ignore[arg-type]
        ).fetchone()
    return int(row[0]) if row else 0


def workers(schema: str, platform_url: str, count: int) -> list[subprocess.Popen[bytes]]:
    """The peer's worker processes; each one's stderr is kept in a file, for `working` to show."""
    code = f"import sys; sys.path.insert(0, {str(ROOT)!r}); from scripts.benchmarks.peer import work; work({schema!r})"
    env = {**os.environ, "PEER_PLATFORM_URL": platform_url}
    started = []
    for _ in range(count):
        log = tempfile.TemporaryFile()  # noqa: SIM115 (open as long as the worker runs; gone with it)
        process = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=ROOT, stderr=log)
        process.log = log  # type: ignore[attr-defined]
        started.append(process)
    return started


def working(processes: list[subprocess.Popen[bytes]]) -> bool:
    """False, as a completion probe's first term; raises if a worker has exited: the run
    would otherwise wait out its whole limit for jobs nobody takes."""
    for process in processes:
        if process.poll() is not None:
            log = process.log  # type: ignore[attr-defined]
            log.seek(0)
            tail = log.read().decode(errors="replace").strip().splitlines()[-15:]
            raise RuntimeError(f"a peer worker exited with code {process.returncode}:\n" + "\n".join(tail))
    return False


def burst(schema: str, platform_url: str, n: int, accounts: int, count: int) -> Result:
    prepare(schema)
    defer(schema, [{"account": f"acct-{i % accounts}", "text": f"burst {i}", "key": f"k{i}"} for i in range(n)])
    began = time.monotonic()
    processes = workers(schema, platform_url, count)
    try:
        wait_until(lambda: working(processes) or succeeded(schema) >= n, limit=1800, poll=0.2)
        seconds = time.monotonic() - began
    finally:
        stop_all(processes)
    held, repeats = duplicates(platform_url)
    return Result(
        "burst",
        "peer",
        {"posts": n, "seconds": seconds, "posts_per_s": n / seconds, "published": held, "duplicates": repeats},
    )


def lag(schema: str, platform_url: str, rate: int, seconds: float, count: int, lead: float = 0.0) -> Result:
    """As Herald's: each job deferred `lead` seconds ahead (`schedule_at`; 0: now); its start
    minus that instant."""
    prepare(schema)
    processes = workers(schema, platform_url, count)
    app = make_app(schema)
    total = 0

    async def feed() -> int:
        async with app.open_async():
            task = app.tasks["publish"]
            began, sent = time.monotonic(), 0
            while (elapsed := time.monotonic() - began) < seconds:
                owed = int(elapsed * rate) - sent
                if owed > 0:
                    at = {"schedule_at": datetime.now(UTC) + timedelta(seconds=lead)} if lead else {}
                    await task.configure(**at).batch_defer_async(
                        *(
                            {"account": f"acct-{(sent + i) % 500}", "text": f"steady {sent + i}", "key": f"k{sent + i}"}
                            for i in range(owed)
                        )
                    )
                    sent += owed
                await asyncio.sleep(0.01)
            return sent

    try:
        time.sleep(3)
        total = asyncio.run(feed())
        wait_until(lambda: working(processes) or succeeded(schema) >= total, limit=600, poll=0.2)
    finally:
        stop_all(processes)
    with psycopg.connect(POSTGRES, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT EXTRACT(EPOCH FROM (s.at - GREATEST(d.at, j.scheduled_at))) * 1000 FROM "  # type: ignore[arg-type]
            f'"{schema}".procrastinate_events d JOIN "{schema}".procrastinate_events s'
            " ON s.job_id = d.job_id AND s.type = 'started'"
            f' JOIN "{schema}".procrastinate_jobs j ON j.id = d.job_id'
            " WHERE d.type = 'deferred'"
        ).fetchall()
    lags = [float(r[0]) for r in rows]
    return Result(
        "lag",
        "peer",
        {
            "posts": total,
            "rate": rate,
            "lead_s": lead,
            "p50_ms": percentile(lags, 0.5),
            "p99_ms": percentile(lags, 0.99),
            "max_ms": max(lags) if lags else float("nan"),
        },
    )
