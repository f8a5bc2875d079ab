"""Structured logs, as an operator's log shipper reads them: with HERALD_LOG_FORMAT=json every
line of `herald serve` is one JSON object, and each line about a post carries its post id,
workspace, account, attempt and request id; without it, lines read as text."""

from __future__ import annotations

import json
import signal
import time
import urllib.request
from typing import Any

import pytest

from tests.processes import create_workspace, herald_env, reaped, start_serve, start_simulator

pytestmark = pytest.mark.slow


def _post(url: str, key: str, body: Any, request_id: str) -> Any:
    headers = {
        "Authorization": f"Bearer {key}",
        "Content-Type": "application/json",
        "Idempotency-Key": request_id,
        "X-Request-Id": request_id,
    }
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers=headers)
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


def _get(url: str, key: str) -> Any:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


def _served(sqlite_url: str, log_format: str) -> tuple[list[str], dict[str, str], dict[str, Any]]:
    """Serve, publish one post, stop: (stderr lines, the workspace, the post)."""
    simulator, platform_url = start_simulator()
    env = herald_env(sqlite_url, HERALD_LOG_FORMAT=log_format, HERALD_LOG_LEVEL="info")
    made = create_workspace(env, "Logged")
    server, root = start_serve(env, "--platform-url", platform_url)
    with reaped(server, simulator):
        base = f"{root}/v1/workspaces/{made['workspace_id']}"
        body = {"account": "acme", "platform": "mastodon", "content": {"text": "logged"}, "mode": "now"}
        post = _post(base + "/posts", made["api_key"], body, "req-logs-1")
        deadline = time.monotonic() + 30
        while _get(f"{base}/posts/{post['id']}", made["api_key"])["state"] != "delivered":
            assert time.monotonic() < deadline, "never published"
            time.sleep(0.1)
        server.send_signal(signal.SIGTERM)
        _, err = server.communicate(timeout=30)
    return err.splitlines(), made, post


def test_json_lines_about_a_post_carry_who_what_and_which_request(sqlite_url: str) -> None:
    lines, made, post = _served(sqlite_url, "json")
    records = [json.loads(line) for line in lines if line.strip()]  # every line is JSON
    about = [r for r in records if r.get("post_id") == post["id"]]
    created = next(r for r in about if r["event"] == "post created")
    assert created["request_id"] == "req-logs-1"  # the API request's own id
    assert created["workspace"] == made["workspace_id"] and created["account"] == "acme"
    answered = next(r for r in about if r["event"] == "attempt answered")
    assert answered["attempt"] == 1 and answered["outcome"] == "accepted"
    assert answered["workspace"] == made["workspace_id"] and answered["account"] == "acme"
    assert answered["request_id"]  # the attempt's publish key, as the platform was sent it
    for record in about:
        assert {"post_id", "workspace", "account", "attempt", "request_id", "level", "timestamp"} <= set(record)


def test_without_json_the_lines_read_as_text(sqlite_url: str) -> None:
    lines, _, post = _served(sqlite_url, "console")
    said = [line for line in lines if post["id"] in line]
    assert any("attempt answered" in line and "outcome=accepted" in line for line in said), lines[-20:]
    assert not any(line.startswith("{") for line in lines)


def test_a_bad_log_setting_is_refused_with_its_name(sqlite_url: str) -> None:
    import subprocess

    from tests.processes import HERALD

    for setting, value in (("HERALD_LOG_FORMAT", "xml"), ("HERALD_LOG_LEVEL", "loud")):
        env = herald_env(sqlite_url, **{setting: value})
        done = subprocess.run([*HERALD, "stats"], env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 2 and "invalid_log_setting" in done.stderr and setting in done.stderr
        assert "Traceback" not in done.stderr
