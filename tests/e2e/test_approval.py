"""Approval over HTTP on both stores: on an account whose posts need approval, a scheduled
post waits (`awaiting_approval`, never due) until a key with the `approve` scope approves it
(queued for the time asked) or rejects it with a comment (a draft again); every step is in the
timeline, and a key without the scope cannot decide."""

from __future__ import annotations

from tests.e2e.conftest import Api, post_body, run_api

ACCOUNT = {
    "name": "client",
    "platform": "mastodon",
    "handle": "client",
    "remote_user_id": "1",
    "credentials": {"access_token": "t"},
    "base_url": "https://mastodon.example",
    "settings": {"approval": 1},
}


def test_a_post_waits_for_an_approver_then_is_queued(store_url: str) -> None:
    async def scenario(api: Api) -> None:
        status, account, _ = await api.call("POST", "/accounts", ACCOUNT)
        assert status == 201, account
        _, post, _ = await api.call("POST", "/posts", post_body(account="client"))
        assert post["state"] == "awaiting_approval" and post["due_at"] is None
        assert api.ctx.herald.due_index.next_due() is None  # nothing to send while it waits
        writer = api.ctx.workspaces.create_key(api.ctx.workspaces.authenticate(api.key).workspace_id, ["read", "write"])
        status, body, _ = await api.call("POST", f"/posts/{post['id']}/approve", {}, key=writer)
        assert (status, body["code"]) == (403, "forbidden_scope")
        status, approved, _ = await api.call("POST", f"/posts/{post['id']}/approve", {"comment": "looks good"})
        assert status == 200 and approved["state"] == "queued" and approved["due_at"] == "2026-11-23T11:00:00Z"
        _, history, _ = await api.call("GET", f"/posts/{post['id']}/timeline")
        said = [e["explanation"] for e in history["events"]]
        assert said[1] == "waiting for an approver before it is queued for 2026-11-23T11:00:00Z"
        assert said[2].startswith("approved by key ") and said[2].endswith(": looks good")
        status, again, _ = await api.call("POST", f"/posts/{post['id']}/approve", {})
        assert (status, again["code"]) == (409, "invalid_transition")

    run_api(store_url, scenario, generic_platform=False)


def test_a_rejected_post_is_a_draft_again_with_the_reason(store_url: str) -> None:
    async def scenario(api: Api) -> None:
        await api.call("POST", "/accounts", ACCOUNT)
        _, post, _ = await api.call("POST", "/posts", post_body(account="client", mode="now", scheduled_at=None))
        assert post["state"] == "awaiting_approval"
        status, rejected, _ = await api.call("POST", f"/posts/{post['id']}/reject", {"comment": "wrong logo"})
        assert status == 200 and rejected["state"] == "draft"
        _, history, _ = await api.call("GET", f"/posts/{post['id']}/timeline")
        assert history["events"][-1]["explanation"].endswith(": wrong logo")
        status, asked, _ = await api.call(
            "POST", f"/posts/{post['id']}/schedule", {"scheduled_at": "2026-11-24T09:00:00Z"}
        )
        assert status == 200 and asked["state"] == "awaiting_approval"  # asked again, after its edit

    run_api(store_url, scenario, generic_platform=False)


def test_a_workspace_can_ask_approval_for_every_post_but_an_account_may_say_otherwise(store_url: str) -> None:
    async def scenario(api: Api) -> None:
        assert (await api.call("GET", "/settings"))[1] == {"approval": False}
        _, post, _ = await api.call("POST", "/posts", post_body(account="plain"))
        assert post["state"] == "queued"
        status, settings, _ = await api.call("PUT", "/settings", {"approval": True})
        assert status == 200 and settings == {"approval": True}
        _, post, _ = await api.call("POST", "/posts", post_body(account="plain"))
        assert post["state"] == "awaiting_approval"  # the workspace's default
        own = {**ACCOUNT, "name": "trusted", "settings": {"approval": 0}}
        assert (await api.call("POST", "/accounts", own))[0] == 201
        _, post, _ = await api.call("POST", "/posts", post_body(account="trusted"))
        assert post["state"] == "queued"  # the account's own setting wins
        for wrong in ("maybe", 0, 1):  # a boolean, not something that could pass for one
            status, refusal, _ = await api.call("PUT", "/settings", {"approval": wrong})
            assert (status, refusal["field"]) == (422, "approval")

    run_api(store_url, scenario)
