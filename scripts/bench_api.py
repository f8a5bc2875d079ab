"""Schedule requests per second through the HTTP API, with idempotency keys, on PostgreSQL.

Run: .venv/bin/python scripts/bench_api.py [--requests 5000] [--concurrency 32] [--repeats 3]
Starts `herald serve --only api` on a fresh PostgreSQL schema, then a load generator in its
own process on loopback; prints requests/s and latency p50/p99 (medians of the repeats).
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
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from tests.processes import HERALD, free_port, reaped  # noqa: E402

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


def load(url: str, key: str, requests: int, concurrency: int) -> tuple[float, list[float], int]:
    import aiohttp

    async def main() -> tuple[float, list[float], int]:
        latencies: list[float] = []
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
                    "content": {"text": f"post {n}"},
                    "scheduled_at": "2030-01-01T09:00:00Z",
                    "external_id": f"b{n}",
                }
                headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": uuid.uuid4().hex}
                start = time.perf_counter()
                async with session.post(url, json=body, headers=headers) as answer:
                    await answer.read()
                    errors += answer.status != 201
                latencies.append(time.perf_counter() - start)

        began = time.perf_counter()
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
            await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        return time.perf_counter() - began, latencies, errors

    return asyncio.run(main())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--postgres", default="postgresql://root@127.0.0.1:5432/test")
    args = parser.parse_args()
    result = measure(args.postgres, args.requests, args.concurrency, args.repeats)
    print(
        f"| api schedule, {args.concurrency} concurrent | {result['req_per_s']:,.0f} req/s | "
        f"p50 {result['p50_ms']:.1f} ms | p99 {result['p99_ms']:.1f} ms |"
    )


def measure(postgres: str, requests: int, concurrency: int, repeats: int) -> dict[str, float]:
    """Median requests/s and latency percentiles of `repeats` runs against a fresh API."""
    args = argparse.Namespace(postgres=postgres, requests=requests, concurrency=concurrency, repeats=repeats)
    schema = f"bench_api_{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "HERALD_DATABASE_URL": f"{args.postgres}?schema={schema}",
        "HERALD_SECRET_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "HERALD_API_CREATIONS_PER_MINUTE": str(10**9),
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
        server = subprocess.Popen(
            [*HERALD, "serve", "--only", "api", "--port", str(port)], env=env, cwd=ROOT, stdout=subprocess.DEVNULL
        )
        with reaped(server):
            base = f"http://127.0.0.1:{port}"
            for _ in range(100):
                try:
                    urllib.request.urlopen(base + "/v1/openapi.json", timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.1)
            url = f"{base}/v1/workspaces/{made['workspace_id']}/posts"
            rates, p50s, p99s = [], [], []
            for _ in range(args.repeats):
                seconds, latencies, errors = load(url, made["api_key"], args.requests, args.concurrency)
                assert errors == 0, f"{errors} requests were not 201"
                latencies.sort()
                rates.append(args.requests / seconds)
                p50s.append(latencies[len(latencies) // 2] * 1000)
                p99s.append(latencies[int(len(latencies) * 0.99)] * 1000)
        return {
            "requests": requests,
            "req_per_s": statistics.median(rates),
            "p50_ms": statistics.median(p50s),
            "p99_ms": statistics.median(p99s),
        }
    finally:
        with psycopg.connect(args.postgres, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
