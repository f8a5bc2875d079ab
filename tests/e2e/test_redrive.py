"""Redrive over HTTP on both stores: a failed post (proved not live) is sent again as a new
post with its own publish key, linked both ways and in both timelines; a post that may be
live, or one sent again already, is refused with 409 and its reason."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from tests.e2e.conftest import Api, post_body, run_api


async def failed_post(api: Api) -> dict[str, object]:
    _, post, _ = await api.call("POST", "/posts", post_body())
    api.clock.advance(hours=4)  # past its deadline with no attempt: it cannot be live
    api.ctx.herald.dispatch.pass_deadline(UUID(str(post["id"])))
    _, failed, _ = await api.call("GET", f"/posts/{post['id']}")
    assert failed["state"] == "failed" and failed["failure_reason"] == "deadline_passed"
    return failed


def test_a_failed_post_is_sent_again_as_a_new_post_linked_both_ways(store_url: str) -> None:
    async def scenario(api: Api) -> None:
        failed = await failed_post(api)
        status, new, headers = await api.call("POST", f"/posts/{failed['id']}/redrive", {})
        assert status == 201, new
        assert new["state"] == "queued" and new["redrive_of"] == failed["id"] and new["id"] != failed["id"]
        assert new["content"] == failed["content"] and new["account"] == failed["account"]
        assert headers["Location"].endswith(f"/posts/{new['id']}")
        _, original, _ = await api.call("GET", f"/posts/{failed['id']}")
        assert original["state"] == "failed" and original["redriven_as"] == new["id"]
        _, old_history, _ = await api.call("GET", f"/posts/{failed['id']}/timeline")
        assert f"sent again as post {new['id']}, by key " in old_history["events"][-1]["explanation"]
        _, new_history, _ = await api.call("GET", f"/posts/{new['id']}/timeline")
        assert f"to send failed post {failed['id']} again" in new_history["events"][0]["explanation"]
        status, again, _ = await api.call("POST", f"/posts/{failed['id']}/redrive", {})
        assert (status, again["code"]) == (409, "redrive_refused") and new["id"] in again["message"]

    run_api(store_url, scenario)


def test_a_post_that_may_be_live_or_is_queued_is_never_redriven(store_url: str) -> None:
    async def scenario(api: Api) -> None:
        _, queued, _ = await api.call("POST", "/posts", post_body())
        status, refusal, _ = await api.call("POST", f"/posts/{queued['id']}/redrive", {})
        assert (status, refusal["code"]) == (409, "redrive_refused") and "queued" in refusal["message"]

    run_api(store_url, scenario)


def test_a_redrive_may_be_scheduled_for_later(store_url: str) -> None:
    async def scenario(api: Api) -> None:
        failed = await failed_post(api)
        later = (api.clock.now + timedelta(days=1)).isoformat()
        status, new, _ = await api.call("POST", f"/posts/{failed['id']}/redrive", {"scheduled_at": later})
        assert status == 201 and new["due_at"].startswith((api.clock.now + timedelta(days=1)).date().isoformat())

    run_api(store_url, scenario)


def test_a_draft_is_scheduled_through_its_own_route(store_url: str) -> None:
    async def scenario(api: Api) -> None:
        _, draft, _ = await api.call("POST", "/posts", post_body(mode="draft", scheduled_at=None))
        status, body, _ = await api.call(
            "PATCH",
            f"/posts/{draft['id']}",
            {"scheduled_at": "2026-11-24T09:00Z"},
            headers={"If-Match": str(draft["version"])},
        )
        assert status == 409 and "/schedule" in body["message"]
        status, queued, _ = await api.call(
            "POST", f"/posts/{draft['id']}/schedule", {"scheduled_at": "2026-11-24T10:00", "timezone": "Europe/Paris"}
        )
        assert status == 200 and queued["state"] == "queued" and queued["due_at"] == "2026-11-24T09:00:00Z"
        status, again, _ = await api.call(
            "POST", f"/posts/{draft['id']}/schedule", {"scheduled_at": "2026-11-24T11:00Z"}
        )
        assert status == 409, again

    run_api(store_url, scenario)


def test_the_dead_letter_is_listed_by_reason_and_sent_again_in_bulk(store_url: str) -> None:
    async def scenario(api: Api) -> None:
        ids = []
        for n in range(3):
            _, post, _ = await api.call("POST", "/posts", post_body(content={"text": f"Post {n}"}))
            ids.append(str(post["id"]))
        api.clock.advance(hours=4)
        for post_id in ids[:2]:
            api.ctx.herald.dispatch.pass_deadline(UUID(post_id))
        status, page, _ = await api.call("GET", "/posts?status=failed&reason=deadline_passed")
        assert status == 200 and sorted(p["id"] for p in page["items"]) == sorted(ids[:2])
        status, page, _ = await api.call("GET", "/posts?status=failed&reason=deadline%25")
        assert (status, page["field"]) == (400, "reason")

        status, done, _ = await api.call("POST", "/redrives", {"reason": "deadline_passed", "limit": 1})
        assert status == 200 and len(done["redriven"]) == 1 and done["more"], done
        status, done, _ = await api.call("POST", "/redrives", {"reason": "deadline_passed"})
        assert status == 200 and len(done["redriven"]) == 1 and not done["more"], done
        status, done, _ = await api.call("POST", "/redrives", {"reason": "deadline_passed"})
        assert done == {"redriven": [], "refused": [], "more": False}  # each failed post is sent again once
        _, first, _ = await api.call("GET", f"/posts/{ids[0]}")
        assert first["redriven_as"] is not None
        _, page, _ = await api.call("GET", "/posts?status=failed&reason=retries_exhausted")
        assert page["items"] == []  # another reason: none
        _, third, _ = await api.call("GET", f"/posts/{ids[2]}")
        assert third["redriven_as"] is None  # not failed: never sent again

    run_api(store_url, scenario)
