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


def test_two_api_processes_share_one_port_and_one_survives_the_other(postgres_url: str) -> None:
    """`serve --only api --reuse-port` twice on one port: both answer, each within its own pool,
    and when one is SIGKILLed the port keeps answering."""
    from tests.processes import free_port

    env = herald_env(postgres_url, HERALD_API_CREATIONS_PER_MINUTE="100000")
    made = create_workspace(env, "Shared port")
    port = free_port()
    args = ("--only", "api", "--reuse-port", "--platform-url", "http://127.0.0.1:9")  # any account may post
    first, root = start_serve(env, *args, port=port)
    second, _ = start_serve(env, *args, port=port)
    with reaped(first, second):
        base = f"{root}/v1/workspaces/{made['workspace_id']}"
        body = {"account": "acme", "platform": "mastodon", "content": {"text": "shared"}, "mode": "draft"}
        ids = {
            call("POST", base + "/posts", made["api_key"], {**body, "external_id": f"s{n}"}, f"s{n}")["id"]
            for n in range(30)
        }
        assert len(ids) == 30
        assert connections_of(first.pid) <= 4 and connections_of(second.pid) <= 4
        second.send_signal(signal.SIGKILL)
        second.wait(timeout=10)
        for post_id in ids:
            assert call("GET", f"{base}/posts/{post_id}", made["api_key"])["id"] == post_id
