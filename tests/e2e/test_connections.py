"""One process holds at most its pool's connections, whatever parts it runs: `herald serve`
with the API, a dispatcher, the projections and the webhook sender all at work, on PostgreSQL."""

from __future__ import annotations

import json
import signal
import time
import urllib.request
from typing import Any

import psycopg
import pytest

from tests.conftest import POSTGRES_URL
from tests.processes import admin, create_workspace, herald_env, reaped, start_serve, start_simulator

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def call(method: str, url: str, key: str, body: Any = None, idem: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    if idem:
        headers["Idempotency-Key"] = idem
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


def connections_of(pid: int) -> int:
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", [f"herald-{pid}"])
        return int(row.fetchone()[0])  # type: ignore[index]


def test_serve_with_every_part_busy_holds_at_most_four_connections(postgres_url: str) -> None:
    simulator, platform_url = start_simulator(faults="latency_ms=20")
    env = herald_env(postgres_url)
    made = create_workspace(env, "Pool")
    server, root = start_serve(env, "--platform-url", platform_url)
    with reaped(server, simulator):
        base = f"{root}/v1/workspaces/{made['workspace_id']}"
        ids, most = [], 0
        for n in range(40):
            body = {"account": f"acme-{n % 4}", "platform": "mastodon", "content": {"text": f"pool {n}"}, "mode": "now"}
            ids.append(call("POST", base + "/posts", made["api_key"], body, f"p{n}")["id"])
            call("GET", base + "/posts?limit=10", made["api_key"])
            most = max(most, connections_of(server.pid))
        deadline = time.monotonic() + 60
        while len(admin(platform_url, "/admin/truth")["posts"]) < len(ids):
            assert time.monotonic() < deadline, "the posts were not all published"
            most = max(most, connections_of(server.pid))
            time.sleep(0.05)
        assert 1 <= most <= 4, most
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=30)
