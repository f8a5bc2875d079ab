"""Posts over HTTP: every status and code the API promises."""

from __future__ import annotations

from datetime import datetime

import pytest

from domain.content import Content
from infrastructure.bootstrap import bootstrap
from tests.e2e.conftest import Api, post_body, run_api


def test_create_in_each_mode_and_read_back(store_url: str) -> None:
    async def scenario(api: Api) -> None:
        status, post, headers = await api.call("POST", "/posts", post_body(external_id="crm-1"))
        assert status == 201 and post["state"] == "queued" and post["due_at"] == "2026-11-23T11:00:00Z"
        assert headers["RateLimit-Limit"] == "120"
        status, local, _ = await api.call(
            "POST", "/posts", post_body(scheduled_at="2026-11-23T13:30", timezone="Europe/Paris")
        )
        assert status == 201 and local["due_at"] == "2026-11-23T12:30:00Z"
        status, draft, _ = await api.call("POST", "/posts", post_body(mode="draft", scheduled_at=None))
        assert status == 201 and draft["state"] == "draft"
        status, now, _ = await api.call("POST", "/posts", post_body(mode="now", scheduled_at=None))
        assert status == 201 and now["due_at"] == "2026-11-23T09:00:00Z"
        status, read, _ = await api.call("GET", f"/posts/{post['id']}")
        assert status == 200 and read == post

    run_api(store_url, scenario)


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"scheduled_at": "2026-11-23T12:00:00"}, "naive_datetime"),
        ({"scheduled_at": "2020-01-01T00:00:00Z"}, "due_time_in_past"),
        ({"scheduled_at": "tomorrow"}, "invalid_instant"),
        ({"scheduled_at": "2027-03-28T02:30", "timezone": "Europe/Paris"}, "invalid_instant"),
        ({"scheduled_at": "2027-01-01T09:00", "timezone": "Nowhere/Land"}, "invalid_timezone"),
        ({"scheduled_at": None}, "scheduled_at_missing"),
        ({"content": {"text": " "}}, "empty_content"),
        ({"content": {"text": "a" * 501}}, "content_invalid"),
        ({"platform": "myspace"}, "invalid_field"),
        ({"content": {"text": 12}}, "invalid_field"),
        ({"colour": "blue"}, "unknown_field"),
    ],
)
def test_bad_input_is_422_with_its_code_and_field(store_url: str, changes: dict[str, object], code: str) -> None:
    async def scenario(api: Api) -> None:
        status, body, _ = await api.call("POST", "/posts", post_body(**changes))
        assert (status, body["code"]) == (422, code), body
        assert body["message"] and "field" in body
        if code == "content_invalid":
            assert body["problems"][0]["message"] == "part 1: text is 501 characters, Mastodon allows 500"
        status, page, _ = await api.call("GET", "/posts")
        assert page["items"] == []  # nothing was created

    run_api(store_url, scenario)


def test_malformed_and_huge_bodies_get_json_errors(store_url: str) -> None:
    async def scenario(api: Api) -> None:
        headers = {"Authorization": f"Bearer {api.key}", "Idempotency-Key": "m1", "Content-Type": "application/json"}
        for data, status, code in (
            (b"{nope", 400, "invalid_json"),
            (b"[1, 2]", 422, "invalid_field"),
            (b"x" * (2 * 1024 * 1024), 413, "payload_too_large"),
        ):
            headers["Idempotency-Key"] = code
            async with api.session.post(api.url("/posts"), data=data, headers=headers) as answer:
                body = await answer.json()
                assert (answer.status, body["code"]) == (status, code)

    run_api(store_url, scenario)


def test_pages_by_cursor_never_repeat_or_skip_under_concurrent_writes(store_url: str) -> None:
    async def scenario(api: Api) -> None:
        made = [(await api.call("POST", "/posts", post_body(external_id=f"e{n}")))[1]["id"] for n in range(7)]
        status, first, _ = await api.call("GET", "/posts?limit=3")
        assert status == 200 and [p["id"] for p in first["items"]] == made[:3]
        made += [(await api.call("POST", "/posts", post_body()))[1]["id"] for _ in range(2)]  # written meanwhile
        seen = [p["id"] for p in first["items"]]
        cursor = first["next_cursor"]
        while cursor:
            _, page, _ = await api.call("GET", f"/posts?limit=3&cursor={cursor}")
            seen += [p["id"] for p in page["items"]]
            cursor = page["next_cursor"]
        assert seen == made
        _, one, _ = await api.call("GET", "/posts?external_id=e4")
        assert [p["id"] for p in one["items"]] == [made[4]]
        _, none, _ = await api.call("GET", "/posts?status=delivered&platform=mastodon")
        assert none["items"] == []
        status, bad, _ = await api.call("GET", "/posts?limit=1000")
        assert (status, bad["code"], bad["field"]) == (400, "invalid_field", "limit")

    run_api(store_url, scenario)


def test_patch_needs_the_current_version_and_respects_the_freeze(store_url: str) -> None:
    async def scenario(api: Api) -> None:
        _, post, _ = await api.call("POST", "/posts", post_body())
        path = f"/posts/{post['id']}"
        status, body, _ = await api.call("PATCH", path, {"content": {"text": "Edited"}})
        assert (status, body["code"]) == (428, "if_match_required")
        status, body, _ = await api.call("PATCH", path, {"content": {"text": "Edited"}}, headers={"If-Match": '"1"'})
        assert (status, body["code"]) == (412, "version_mismatch")
        status, body, headers = await api.call(
            "PATCH",
            path,
            {"content": {"text": "Edited"}, "scheduled_at": "2026-11-23T14:00:00Z"},
            headers={"If-Match": f'"{post["version"]}"'},
        )
        assert status == 200 and body["content"]["text"] == "Edited" and body["due_at"] == "2026-11-23T14:00:00Z"
        assert headers["ETag"] == f'"{body["version"]}"' and body["version"] == post["version"] + 2
        api.clock.advance(hours=4, minutes=59, seconds=30)  # 30 s before due: inside the 60 s freeze
        status, frozen, _ = await api.call(
            "PATCH", path, {"content": {"text": "Late"}}, headers={"If-Match": str(body["version"])}
        )
        assert (status, frozen["code"]) == (409, "post_frozen")

    run_api(store_url, scenario)


def test_cancel_once_then_conflicts_and_the_post_is_kept(store_url: str) -> None:
    async def scenario(api: Api) -> None:
        _, post, _ = await api.call("POST", "/posts", post_body())
        status, body, _ = await api.call("POST", f"/posts/{post['id']}/cancel")
        assert (status, body["state"]) == (200, "canceled")
        status, body, _ = await api.call("POST", f"/posts/{post['id']}/cancel", {"reason": "again"})
        assert (status, body["code"]) == (409, "post_terminal")
        status, timeline, _ = await api.call("GET", f"/posts/{post['id']}/timeline")
        assert status == 200 and [e["event"] for e in timeline["events"]] == ["Drafted", "Scheduled", "Canceled"]
        assert timeline["summary"]["state"] == "canceled"

    run_api(store_url, scenario)


def test_unknown_posts_and_routes_are_404_in_json(store_url: str) -> None:
    async def scenario(api: Api) -> None:
        for path in ("/posts/00000000-0000-4000-8000-000000000000", "/posts/not-a-uuid", "/posts/x/timeline"):
            status, body, _ = await api.call("GET", path)
            assert (status, body["code"]) == (404, "post_not_found")
        async with api.session.get(f"{api.root}/nowhere") as answer:
            assert answer.status == 404 and (await answer.json())["code"] == "not_found"

    run_api(store_url, scenario)


def test_a_dry_run_reports_everything_and_writes_nothing(store_url: str) -> None:
    async def scenario(api: Api) -> None:
        _, existing, _ = await api.call("POST", "/posts", post_body(account="busy"))
        plan = {
            "items": [
                post_body(account="busy"),  # collides with the existing post
                post_body(account="acme", scheduled_at="2026-11-24T09:00:00Z", platform="x"),
                post_body(content={"text": "a" * 600}),
                post_body(scheduled_at="soon"),
            ]
        }
        status, report, _ = await api.call("POST", "/plans/dry-run", plan)
        assert status == 200
        assert (report["earliest"], report["latest"]) == ("2026-11-23T11:00:00Z", "2026-11-24T09:00:00Z")
        assert report["per_platform"] == {"mastodon": 2, "x": 1}
        assert report["per_day"] == {"2026-11-23": 2, "2026-11-24": 1}
        assert [c["index"] for c in report["collisions"]] == [0]
        assert {p["index"]: p["code"] for p in report["problems"]} == {2: "content_invalid", 3: "invalid_instant"}
        _, page, _ = await api.call("GET", "/posts")
        assert [p["id"] for p in page["items"]] == [existing["id"]]

    run_api(store_url, scenario)


def test_a_dry_run_finds_collisions_inside_the_plan_too(store_url: str) -> None:
    async def scenario(api: Api) -> None:
        plan = {
            "items": [
                post_body(account="twice"),
                post_body(account="other"),
                post_body(account="twice", scheduled_at="2026-11-23T12:00:30+01:00"),  # 30 s after item 0
                post_body(account="twice", scheduled_at="2026-11-23T13:00:00+01:00"),  # an hour later: fine
            ]
        }
        _, report, _ = await api.call("POST", "/plans/dry-run", plan)
        assert [(c["index"], c["code"]) for c in report["collisions"]] == [(2, "collision")]
        assert "item 0 of this plan" in report["collisions"][0]["message"]

    run_api(store_url, scenario)


SMALL = {  # an X account whose posting window holds two posts
    "name": "small",
    "platform": "x",
    "handle": "s",
    "remote_user_id": "1",
    "credentials": {"access_token": "t"},
    "settings": {"quota_limit": 2},
}


def test_quota_violations_in_a_plan(sqlite_url: str) -> None:
    async def scenario(api: Api) -> None:
        await api.call("POST", "/accounts", SMALL)
        plan = {"items": [post_body(account="small", platform="x") for _ in range(3)]}
        _, report, _ = await api.call("POST", "/plans/dry-run", plan)
        (violation,) = report["quota_violations"]
        assert violation["index"] == 2 and violation["code"] == "quota_exceeded" and violation["next_free"]

    run_api(sqlite_url, scenario)


def test_the_quota_counts_what_other_processes_booked(store_url: str) -> None:
    """The API keeps its quota check's view in memory; posts another process scheduled on the
    account fill the window as much as its own do."""

    async def scenario(api: Api) -> None:
        api.ctx.herald.booking.bookings.every = 0  # type: ignore[union-attr]  # fold at every check: no waiting
        assert (await api.call("POST", "/accounts", SMALL))[0] == 201
        at = "2026-11-23T15:00:00Z"
        other = bootstrap(store_url, clock=api.clock)  # another process on the same store
        try:
            other.posts.schedule(
                account="small",
                platform="x",
                content=Content(text="theirs"),
                scheduled_at=datetime.fromisoformat(at),
                workspace=api.workspace,
            )
        finally:
            other.close()
        ours = post_body(account="small", platform="x", scheduled_at=at)
        assert (await api.call("POST", "/posts", ours))[0] == 201
        status, body, _ = await api.call("POST", "/posts", ours)
        assert (status, body["code"], body["field"]) == (422, "quota_exceeded", "scheduled_at")
        status, moved, _ = await api.call("POST", "/posts", {**ours, "when_full": "move"})
        assert status == 201 and datetime.fromisoformat(moved["due_at"]) > datetime.fromisoformat(at)

    run_api(store_url, scenario)
