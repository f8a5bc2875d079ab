"""Schedule requests per second through the HTTP API, with idempotency keys, on PostgreSQL.

Run: .venv/bin/python scripts/bench_api.py [--requests 5000] [--concurrency 32] [--repeats 3]
Starts `herald serve --only api` on a fresh PostgreSQL schema and drives it from this process
over loopback; then the same load against a raw aiohttp + psycopg handler storing the same
rows (scripts/benchmarks/raw_api.py), for a same-run ratio. Prints requests/s, latency
p50/p99, CPU per request of the server and of PostgreSQL (from /proc), and timeline look-up
latency idle and while posts are being written: served by the process taking the writes, and
by a second API process on another port that takes none (medians of the repeats).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from scripts.benchmarks.common import check_headroom, cpu_seconds, percentile, postgres_pids  # noqa: E402
from tests.processes import HERALD, answering, free_port, reaped  # noqa: E402

ACCOUNTS = 1000


def connect_accounts(env: dict[str, str], workspace: str, count: int) -> None:
    """The accounts the load posts from: a post must name a connected account."""
    from infrastructure.bootstrap import bootstrap

    saved = {name: os.environ.get(name) for name in ("HERALD_SECRET_KEY",)}
    os.environ["HERALD_SECRET_KEY"] = env["HERALD_SECRET_KEY"]
    herald = bootstrap(env["HERALD_DATABASE_URL"])
    try:
        for n in range(count):
            herald.accounts.connect(
                name=f"acct-{n}",
                platform="x",
                handle=f"acct{n}",
                remote_user_id=str(n),
                credentials={"access_token": "t"},
                workspace=workspace,
            )
    finally:
        herald.close()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def load(url: str, key: str, requests: int, concurrency: int) -> tuple[float, list[float], int, list[str]]:
    """Schedule `requests` posts from `concurrency` clients: (seconds, latencies, errors, post ids)."""
    return asyncio.run(_load(url, key, requests, concurrency))


async def _load(url: str, key: str, requests: int, concurrency: int) -> tuple[float, list[float], int, list[str]]:
    import aiohttp

    latencies: list[float] = []
    ids: list[str] = []
    errors = 0
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(requests):
        queue.put_nowait(n)

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal errors
        while not queue.empty():
            n = queue.get_nowait()
            body = {
                "account": f"acct-{n % ACCOUNTS}",
                "platform": "x",
                "content": {"text": f"post {n} {uuid.uuid4().hex[:6]}"},
                "scheduled_at": "2030-01-01T09:00:00Z",
                "external_id": f"b{n}",
            }
            headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": uuid.uuid4().hex}
            start = time.perf_counter()
            async with session.post(url, json=body, headers=headers) as answer:
                found = await answer.read()
                errors += answer.status != 201
            latencies.append(time.perf_counter() - start)
            if answer.status == 201:
                ids.append(json.loads(found)["id"])

    began = time.perf_counter()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    return time.perf_counter() - began, latencies, errors, ids


async def _look_ups(base: str, key: str, ids: list[str], until: asyncio.Event | None, count: int) -> list[float]:
    """Timeline look-ups one after another (a support agent's), `count` of them, or until `until`."""
    import aiohttp

    latencies: list[float] = []
    async with aiohttp.ClientSession() as session:
        n = 0
        while (until is None and n < count) or (until is not None and not until.is_set()):
            start = time.perf_counter()
            async with session.get(
                f"{base}/{ids[n % len(ids)]}/timeline", headers={"Authorization": f"Bearer {key}"}
            ) as got:
                await got.read()
                assert got.status == 200, got.status
            latencies.append(time.perf_counter() - start)
            n += 1
    return latencies


def look_ups_under_load(
    url: str, key: str, ids: list[str], requests: int, concurrency: int, reads: str | None = None
) -> list[float]:
    """Timeline look-ups while `requests` more posts are being scheduled through `url`.

    The look-ups go to `url` too, or to `reads`: the same posts through an API process that
    takes none of the writes.
    """

    async def both() -> list[float]:
        done = asyncio.Event()

        async def writes() -> None:
            await _load(url, key, requests, concurrency)
            done.set()

        _, latencies = await asyncio.gather(writes(), _look_ups(reads or url, key, ids, done, 0))
        return latencies

    return asyncio.run(both())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--processes", type=int, default=1, help="API processes sharing the port (--reuse-port)")
    parser.add_argument("--postgres", default="postgresql://root@127.0.0.1:5432/test")
    args = parser.parse_args()
    result = measure(args.postgres, args.requests, args.concurrency, args.repeats, args.processes)
    raw = result["raw_req_per_s"]
    print(
        f"api schedule, {args.concurrency} clients, {args.processes} API process(es): "
        f"herald {result['req_per_s']:,.0f} req/s "
        f"(p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms), raw {raw:,.0f} req/s "
        f"(p99 {result['raw_p99_ms']:.1f} ms): ratio {result['req_per_s'] / raw:.2f}\n"
        f"CPU per request: herald API {result['api_cpu_ms']:.2f} ms + PostgreSQL {result['pg_cpu_ms']:.2f} ms; "
        f"raw {result['raw_cpu_ms']:.2f} ms + PostgreSQL {result['raw_pg_cpu_ms']:.2f} ms\n"
        f"timeline look-up: idle p50 {result['timeline_p50_ms']:.1f} ms, p99 {result['timeline_p99_ms']:.1f} ms; "
        f"while writing p50 {result['timeline_busy_p50_ms']:.1f} ms, p99 {result['timeline_busy_p99_ms']:.1f} ms; "
        f"from a process taking no writes p50 {result['timeline_reader_p50_ms']:.1f} ms, "
        f"p99 {result['timeline_reader_p99_ms']:.1f} ms"
    )


def _rates(
    url: str, key: str, requests: int, concurrency: int, repeats: int, servers: list[int]
) -> tuple[dict[str, float], list[str]]:
    """Median requests/s, latency and CPU per request (server process, PostgreSQL) of `repeats` loads."""
    rates, p50s, p99s, own, database = [], [], [], [], []
    ids: list[str] = []
    for _ in range(repeats):
        before = cpu_seconds(servers), cpu_seconds(postgres_pids())
        seconds, latencies, errors, made = load(url, key, requests, concurrency)
        assert errors == 0, f"{errors} requests were not 201"
        own.append((cpu_seconds(servers) - before[0]) / requests * 1000)
        database.append((cpu_seconds(postgres_pids()) - before[1]) / requests * 1000)
        latencies.sort()
        rates.append(requests / seconds)
        p50s.append(latencies[len(latencies) // 2] * 1000)
        p99s.append(latencies[int(len(latencies) * 0.99)] * 1000)
        ids = ids or made
    return {
        "req_per_s": statistics.median(rates),
        "p50_ms": statistics.median(p50s),
        "p99_ms": statistics.median(p99s),
        "cpu_ms": statistics.median(own),
        "pg_cpu_ms": statistics.median(database),
    }, ids


def measure(postgres: str, requests: int, concurrency: int, repeats: int, processes: int = 1) -> dict[str, float]:
    """Herald's API and the raw handler, each on a fresh schema, the same load: medians of `repeats`."""
    check_headroom(postgres)
    schema = f"bench_api_{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "HERALD_DATABASE_URL": f"{postgres}?schema={schema}",
        "HERALD_SECRET_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "HERALD_API_CREATIONS_PER_MINUTE": str(10**9),
        "HERALD_LOG_LEVEL": "warning",
    }
    try:
        made = json.loads(
            subprocess.run(
                [*HERALD, "workspaces", "create", "Bench"],
                env=env,
                capture_output=True,
                text=True,
                check=True,
                cwd=ROOT,
            ).stdout
        )
        connect_accounts(env, made["workspace_id"], ACCOUNTS)
        port = free_port()
        reads_port = next(p for p in iter(free_port, None) if p != port)
        servers = [
            subprocess.Popen(
                [*HERALD, "serve", "--only", "api", "--port", str(port), "--reuse-port"],
                env=env,
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
            )
            for _ in range(processes)
        ]
        # a process of its own for the support desk's look-ups, on another port: none of the writes
        reader = subprocess.Popen(
            [*HERALD, "serve", "--only", "api", "--port", str(reads_port)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
        )
        with reaped(*servers, reader):
            base = f"http://127.0.0.1:{port}"
            answering(servers[0], base + "/v1/openapi.json")
            time.sleep(1)  # every process listening, not only the first
            url = f"{base}/v1/workspaces/{made['workspace_id']}/posts"
            herald, ids = _rates(url, made["api_key"], requests, concurrency, repeats, [s.pid for s in servers])
            idle = asyncio.run(_look_ups(url, made["api_key"], ids, None, 1000))
            busy = look_ups_under_load(url, made["api_key"], ids, requests, concurrency)
            reads = url.replace(f":{port}/", f":{reads_port}/")
            answering(reader, f"http://127.0.0.1:{reads_port}/v1/openapi.json")
            apart = look_ups_under_load(url, made["api_key"], ids, requests, concurrency, reads)
        raw = _raw(postgres, requests, concurrency, repeats)
        return {
            "requests": requests,
            **{k: v for k, v in herald.items() if k != "cpu_ms"},
            "api_cpu_ms": herald["cpu_ms"],
            "raw_req_per_s": raw["req_per_s"],
            "raw_p99_ms": raw["p99_ms"],
            "raw_cpu_ms": raw["cpu_ms"],
            "raw_pg_cpu_ms": raw["pg_cpu_ms"],
            "timeline_p50_ms": percentile(idle, 0.5) * 1000,
            "timeline_p99_ms": percentile(idle, 0.99) * 1000,
            "timeline_busy_p50_ms": percentile(busy, 0.5) * 1000,
            "timeline_busy_p99_ms": percentile(busy, 0.99) * 1000,
            "timeline_reader_p50_ms": percentile(apart, 0.5) * 1000,
            "timeline_reader_p99_ms": percentile(apart, 0.99) * 1000,
        }
    finally:
        with psycopg.connect(postgres, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')  # type: ignore[arg-type]


def _raw(postgres: str, requests: int, concurrency: int, repeats: int) -> dict[str, float]:
    """The baseline handler (scripts/benchmarks/raw_api.py) under the same load."""
    schema = f"bench_raw_api_{uuid.uuid4().hex[:8]}"
    key = uuid.uuid4().hex
    with psycopg.connect(postgres, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')  # type: ignore[arg-type]
    try:
        port = free_port()
        dsn = f"{postgres}?options=-csearch_path%3D{schema}"
        server = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "scripts" / "benchmarks" / "raw_api.py"),
                "--port",
                str(port),
                "--dsn",
                dsn,
                "--key",
                key,
            ],
            cwd=ROOT,
        )
        with reaped(server):
            base = f"http://127.0.0.1:{port}"
            answering(server, base + "/")
            url = f"{base}/v1/workspaces/{uuid.uuid4()}/posts"
            return _rates(url, key, requests, concurrency, repeats, [server.pid])[0]
    finally:
        with psycopg.connect(postgres, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
