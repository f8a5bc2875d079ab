"""`herald serve` as one process: a post created over HTTP is published by the in-process
dispatcher, its outcome announced to a webhook endpoint, and SIGTERM stops everything cleanly."""

from __future__ import annotations

import json
import signal
import time
import urllib.request
from typing import Any

import pytest

from tests.processes import admin, create_workspace, herald_env, reaped, start_serve, start_simulator

pytestmark = pytest.mark.slow


def call(method: str, url: str, key: str, body: Any = None, idem: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    if idem:
        headers["Idempotency-Key"] = idem
    data = json.dumps(body).encode() if body is not None else None
    with urllib.request.urlopen(
        urllib.request.Request(url, data=data, method=method, headers=headers), timeout=10
    ) as a:
        return json.loads(a.read())


def test_one_process_runs_every_part(sqlite_url: str) -> None:
    simulator, platform_url = start_simulator()
    env = herald_env(sqlite_url)
    made = create_workspace(env, "One")
    server, root = start_serve(env, "--platform-url", platform_url)
    with reaped(server, simulator):
        base = f"{root}/v1/workspaces/{made['workspace_id']}"
        deadline = time.monotonic() + 30
        post = call(
            "POST",
            base + "/posts",
            made["api_key"],
            {"account": "acme", "platform": "mastodon", "content": {"text": "served"}, "mode": "now"},
            "p1",
        )
        while call("GET", f"{base}/posts/{post['id']}", made["api_key"])["state"] != "delivered":
            assert time.monotonic() < deadline, "the in-process dispatcher never published it"
            time.sleep(0.1)
        truth = admin(platform_url, "/admin/truth")["posts"]
        assert [p["text"] for p in truth] == ["served"]
        server.send_signal(signal.SIGTERM)
        out, _ = server.communicate(timeout=30)
        assert server.returncode == 0 and "stopped cleanly" in out
