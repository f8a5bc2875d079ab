"""`herald serve` as one process: a post created over HTTP is published by the in-process
dispatcher, its outcome announced to a webhook endpoint, and SIGTERM stops everything cleanly."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import time
import urllib.request
from typing import Any

import pytest

from tests.processes import HERALD, admin, free_port, reaped, start_simulator

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
    env = {
        **os.environ,
        "HERALD_DATABASE_URL": sqlite_url,
        "HERALD_SECRET_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
    }
    made = json.loads(
        subprocess.run(
            [*HERALD, "workspaces", "create", "One"], env=env, capture_output=True, text=True, check=True, timeout=60
        ).stdout
    )
    port = free_port()
    server = subprocess.Popen(
        [*HERALD, "serve", "--port", str(port), "--platform-url", platform_url],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    with reaped(server, simulator):
        base = f"http://127.0.0.1:{port}/v1/workspaces/{made['workspace_id']}"
        deadline = time.monotonic() + 30
        while True:
            try:
                call("GET", base + "/posts", made["api_key"])
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None
                time.sleep(0.1)
        post = call(
            "POST",
            base + "/posts",
            made["api_key"],
            {"account": "acme", "platform": "mastodon", "content": {"text": "served"}, "mode": "now"},
            "p1",
        )
        while call("GET", f"{base}/posts/{post['id']}", made["api_key"])["state"] != "delivered":
            assert time.monotonic() < deadline + 30, "the in-process dispatcher never published it"
            time.sleep(0.1)
        truth = admin(platform_url, "/admin/truth")["posts"]
        assert [p["text"] for p in truth] == ["served"]
        server.send_signal(signal.SIGTERM)
        out, _ = server.communicate(timeout=30)
        assert server.returncode == 0 and "stopped cleanly" in out
