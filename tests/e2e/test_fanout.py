"""Fan-out plans over HTTP on both stores: one request makes one post per target under one
plan id, all or none; the same plan id again answers the same plan; staggering keeps one
account's posts apart and nothing in one second, the same way every time; the plan's status
sums its posts."""

from __future__ import annotations

import uuid
from datetime import datetime

from tests.e2e.conftest import Api, run_api

TARGETS = [
    {"account": "acme", "platform": "mastodon"},
    {"account": "acme", "platform": "mastodon", "content": {"text": "Second, its own words"}},
    {"account": "acme-x", "platform": "x"},
    {"account": "acme-bsky", "platform": "bluesky"},
    {"account": "acme-li", "platform": "linkedin"},
]


def plan_body(**extra: object) -> dict[str, object]:
    return {
        "name": "launch",
        "content": {"text": "We launch today"},
        "targets": TARGETS,
        "scheduled_at": "2026-11-24T09:00",
        "timezone": "Europe/Paris",
        "stagger": {"same_account_minutes": 10, "spread_seconds": 30},
        **extra,
    }


def test_one_request_makes_a_post_per_target_once(store_url: str) -> None:
    async def scenario(api: Api) -> None:
        plan_id = str(uuid.uuid4())
        status, plan, headers = await api.call("POST", "/plans", plan_body(plan_id=plan_id))
        assert status == 201, plan
        assert plan["id"] == plan_id and plan["status"] == "in_progress" and plan["states"] == {"queued": 5}
        assert headers["Location"].endswith(f"/plans/{plan_id}")
        dues = [datetime.fromisoformat(p["due_at"]) for p in plan["posts"]]
        assert len(set(dues)) == 5  # nothing in the same second
        acme = sorted(d for p, d in zip(plan["posts"], dues, strict=True) if p["account"] == "acme")
        assert (acme[1] - acme[0]).total_seconds() >= 600  # one account's posts 10 minutes apart
        second = await api.call("GET", f"/posts/{plan['posts'][1]['id']}")
        assert second[1]["content"]["text"] == "Second, its own words"
        status, again, _ = await api.call("POST", "/plans", plan_body(plan_id=plan_id))  # a retry, another key
        assert status == 200 and again["posts"] == plan["posts"]  # the same plan: same posts, same times
        _, page, _ = await api.call("GET", "/posts?limit=100")
        assert len(page["items"]) == 5
        status, read, _ = await api.call("GET", f"/plans/{plan_id}")
        assert status == 200 and read["posts"] == plan["posts"]

    run_api(store_url, scenario)


def test_a_plan_with_one_bad_target_makes_nothing(store_url: str) -> None:
    async def scenario(api: Api) -> None:
        targets = [*TARGETS, {"account": "acme-x2", "platform": "x", "content": {"text": "a" * 300}}]
        status, body, _ = await api.call("POST", "/plans", plan_body(targets=targets))
        assert (status, body["code"]) == (422, "content_invalid"), body
        _, page, _ = await api.call("GET", "/posts")
        assert page["items"] == []

    run_api(store_url, scenario)


def test_a_plan_sums_its_posts_and_stays_in_its_workspace(store_url: str) -> None:
    async def scenario(api: Api) -> None:
        _, plan, _ = await api.call("POST", "/plans", plan_body(scheduled_at=None, timezone=None, stagger={}))
        assert {p["due_at"] for p in plan["posts"]} == {"2026-11-23T09:00:00Z"}  # now, all of them
        for post in plan["posts"]:
            await api.call("POST", f"/posts/{post['id']}/cancel", {})
        _, read, _ = await api.call("GET", f"/plans/{plan['id']}")
        assert read["status"] == "ended" and read["states"] == {"canceled": 5}
        other, key = api.ctx.workspaces.create("Rival")
        status, body, _ = await api.call("GET", f"/plans/{plan['id']}", key=key, workspace=str(other))
        assert (status, body["code"]) == (404, "plan_not_found")
        status, body, _ = await api.call("POST", "/plans", plan_body(plan_id=plan["id"]), key=key, workspace=str(other))
        assert (status, body["code"]) == (409, "plan_id_taken")

    run_api(store_url, scenario)
