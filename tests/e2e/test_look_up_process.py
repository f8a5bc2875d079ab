"""Support's look-ups served by an API process that takes none of the writes (docs/architecture.md,
"Several processes"): what it answers is as current as the process that wrote the post."""

from __future__ import annotations

import urllib.error

import pytest

from tests.e2e.test_connections import call
from tests.processes import create_workspace, herald_env, reaped, start_serve

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_a_process_taking_no_writes_shows_each_post_as_soon_as_another_wrote_it(postgres_url: str) -> None:
    env = herald_env(postgres_url)
    made = create_workspace(env, "Look-ups")
    args = ("--only", "api", "--platform-url", "http://127.0.0.1:9")  # any account may post
    writer, writes = start_serve(env, *args)
    reader, reads = start_serve(env, *args)
    with reaped(writer, reader):
        path = f"/v1/workspaces/{made['workspace_id']}/posts"
        key = made["api_key"]
        for n in range(5):
            body = {"account": "acme", "platform": "mastodon", "content": {"text": f"read {n}"}, "mode": "draft"}
            post = call("POST", writes + path, key, {**body, "external_id": f"r{n}"}, f"r{n}")
            seen = call("GET", f"{reads}{path}/{post['id']}/timeline", key)
            assert [e["event"] for e in seen["events"]] == ["Drafted"]

            call("POST", f"{writes}{path}/{post['id']}/cancel", key, {"reason": "changed plans"}, f"c{n}")
            seen = call("GET", f"{reads}{path}/{post['id']}/timeline", key)
            assert [e["event"] for e in seen["events"]] == ["Drafted", "Canceled"]
            assert seen["summary"]["state"] == "canceled"

        other = create_workspace(env, "Someone else")
        with pytest.raises(urllib.error.HTTPError, match="404"):
            call("GET", f"{reads}/v1/workspaces/{other['workspace_id']}/posts/{post['id']}/timeline", other["api_key"])
