"""Metrics across processes on PostgreSQL: with PROMETHEUS_MULTIPROC_DIR shared, the API
process's /metrics also counts what a separate dispatcher process did."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

import pytest

from tests.processes import HERALD, create_workspace, herald_env, reaped, start_serve, start_simulator

TOKEN = "operator-token-for-metrics"


def get(url: str, key: str, body: object = None, method: str = "GET") -> bytes:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json", "Idempotency-Key": "m1"}
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as answer:
        return answer.read()


@pytest.mark.postgres
def test_the_api_sums_every_process_counts(postgres_url: str, tmp_path: Path) -> None:
    import subprocess

    shared = tmp_path / "prometheus"
    shared.mkdir()
    simulator, platform_url = start_simulator()
    env = herald_env(postgres_url, HERALD_METRICS_TOKEN=TOKEN, PROMETHEUS_MULTIPROC_DIR=str(shared))
    made = create_workspace(env, "Metrics")
    api, root = start_serve(env, "--only", "api", "--platform-url", platform_url)
    dispatcher = subprocess.Popen(
        [*HERALD, "serve", "--only", "dispatcher", "--platform-url", platform_url],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    with reaped(api, dispatcher, simulator):
        base = f"{root}/v1/workspaces/{made['workspace_id']}"
        post = {"account": "acme", "platform": "mastodon", "content": {"text": "counted"}, "mode": "now"}
        post_id = json.loads(get(base + "/posts", made["api_key"], post, "POST"))["id"]
        deadline = time.monotonic() + 60
        while json.loads(get(f"{base}/posts/{post_id}", made["api_key"]))["state"] != "delivered":
            assert time.monotonic() < deadline, "the dispatcher process never published it"
            time.sleep(0.1)
        text = get(root + "/metrics", TOKEN).decode()
        assert 'herald_attempts_total{outcome="accepted",platform="mastodon"} 1.0' in text  # the other process's
        assert 'herald_api_request_seconds_count{method="POST",route="/v1/workspaces/{workspace_id}/posts"' in text
