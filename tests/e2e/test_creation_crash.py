"""An API process SIGKILLed the moment its creation commits, before it can answer: the
client's retry with the same Idempotency-Key replays the post that was saved. The key's
record holds its answer from that commit on (`services/joined_writes.py`), so the retry gets
neither a 409 for a key left in flight nor, once that expired, a second post."""

from __future__ import annotations

import contextlib
import json
import threading
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest
from psycopg.sql import SQL, Identifier

from infrastructure.persistence.recorder import channel_of
from tests.conftest import POSTGRES_URL
from tests.processes import create_workspace, herald_env, reaped, start_serve

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

ANY_ACCOUNT = ("--only", "api", "--platform-url", "http://127.0.0.1:9")  # no dispatcher; any account may post


def call(url: str, key: str, body: Any = None, idem: str | None = None) -> tuple[int, Any, dict[str, str]]:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    if idem:
        headers["Idempotency-Key"] = idem
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method="POST" if body else "GET", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read()), dict(answer.headers)
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read()), dict(refused.headers)


def body_of(n: int) -> dict[str, Any]:
    return {
        "account": "acme",
        "platform": "mastodon",
        "content": {"text": f"crash {n}"},
        "scheduled_at": "2031-01-01T09:00:00Z",
        "external_id": f"crash-{n}",
    }


def test_a_retry_after_the_api_died_at_its_commit_replays_the_saved_post(postgres_url: str) -> None:
    env = herald_env(postgres_url)
    made = create_workspace(env, "Crash")
    workspace, key = made["workspace_id"], made["api_key"]
    schema = parse_qs(urlsplit(postgres_url).query)["schema"][0]
    with psycopg.connect(POSTGRES_URL, autocommit=True) as listener:
        listener.execute(SQL("LISTEN {}").format(Identifier(channel_of(schema, "herald_events"))))
        for n in range(3):
            server, root = start_serve(env, *ANY_ACCOUNT)
            with reaped(server):
                base = f"{root}/v1/workspaces/{workspace}"
                for _ in listener.notifies(timeout=0.5):
                    pass  # whatever the start saved: the next notification is the creation's commit
                sent = threading.Thread(target=_unanswered, args=(base + "/posts", key, body_of(n), f"k{n}"))
                sent.start()
                for _ in listener.notifies(timeout=30, stop_after=1):
                    server.kill()  # at its commit: it has not answered yet, most likely
                assert server.wait(timeout=10) < 0, "the creation's commit was never notified"
                sent.join(timeout=10)
    server, root = start_serve(env, *ANY_ACCOUNT)
    with reaped(server):
        base = f"{root}/v1/workspaces/{workspace}"
        for n in range(3):
            status, answer, headers = call(base + "/posts", key, body_of(n), f"k{n}")
            assert (status, headers.get("Idempotent-Replayed")) == (201, "true"), answer
            _, page, _ = call(base + f"/posts?external_id=crash-{n}", key)
            assert [item["id"] for item in page["items"]] == [answer["id"]]
            assert answer["state"] == "queued" and answer["due_at"] == "2031-01-01T09:00:00Z"


def _unanswered(url: str, key: str, body: dict[str, Any], idem: str) -> None:
    """The first request, whose process is killed under it: its answer, if any, is not read."""
    with contextlib.suppress(OSError):  # URLError is one
        call(url, key, body, idem)
