"""Two workspaces, each with an account named `main`, through the API, dispatch and webhooks:
a 429 on one never paces the other, and neither sees anything of the other's."""

from __future__ import annotations

import aiohttp

from infrastructure.platforms.simulator import Simulator, start
from infrastructure.webhook_client import WebhookClient
from services.dispatcher import DispatchSettings
from tests.e2e.conftest import Api, run_api
from tests.e2e.test_webhooks import Receiver


def account(base_url: str, user: str) -> dict[str, object]:
    return {
        "name": "main",
        "platform": "mastodon",
        "handle": "main",
        "remote_user_id": user,
        "credentials": {"access_token": "t"},
        "base_url": base_url,
    }


def now_post(text: str) -> dict[str, object]:
    return {"account": "main", "platform": "mastodon", "content": {"text": text}, "mode": "now"}


def test_equal_account_names_in_two_workspaces_are_two_accounts(store_url: str) -> None:
    async def scenario(api: Api) -> None:
        other_id, other_key = api.ctx.workspaces.create("Other agency")
        other = str(other_id)
        limited = Simulator(faults={"http_429": 1.0, "retry_after": 600}, clock=api.clock)
        calm = Simulator(clock=api.clock)
        limited_runner, limited_port = await start(limited)
        calm_runner, calm_port = await start(calm)
        receiver_a, receiver_b = Receiver([]), Receiver([])
        hooks = [await receiver_a.start(), await receiver_b.start()]
        try:
            await api.call("POST", "/accounts", account(f"http://127.0.0.1:{limited_port}", "1"))
            await api.call(
                "POST", "/accounts", account(f"http://127.0.0.1:{calm_port}", "1"), key=other_key, workspace=other
            )
            events = ["post.delivered", "post.failed"]
            await api.call("POST", "/webhooks", {"url": hooks[0][1], "events": events})
            await api.call("POST", "/webhooks", {"url": hooks[1][1], "events": events}, key=other_key, workspace=other)
            _, mine, _ = await api.call("POST", "/posts", now_post("from A"))
            _, theirs, _ = await api.call("POST", "/posts", now_post("from B"), key=other_key, workspace=other)

            async with aiohttp.ClientSession() as session:
                router = api.ctx.herald.account_router(session, timeout=2)
                dispatcher = api.ctx.herald.dispatcher(router, DispatchSettings("w"))
                await dispatcher.tick()  # A's main: 429 for ten minutes; B's main: delivered
                assert dispatcher.pacer.blocked_accounts(api.clock()) == [(api.workspace, "main")]
                _, later, _ = await api.call("POST", "/posts", now_post("B again"), key=other_key, workspace=other)
                await dispatcher.tick()  # B is never paced by A's 429
                for post in (theirs, later):
                    status, read, _ = await api.call("GET", f"/posts/{post['id']}", key=other_key, workspace=other)
                    assert (status, read["state"]) == (200, "delivered")
                _, still, _ = await api.call("GET", f"/posts/{mine['id']}")
                _, why, _ = await api.call("GET", f"/posts/{mine['id']}/timeline")
                assert still["state"] == "queued" and limited.posts == [], [r["explanation"] for r in why["events"]]
                assert sorted(p["text"] for p in calm.posts) == ["B again", "from B"]

                sender = api.ctx.herald.webhook_sender()
                await sender.tick(WebhookClient(session))
                assert receiver_a.received == []  # A's post has no outcome yet; B's never come here
                assert len(receiver_b.received) == 2
                assert all(mine["id"].encode() not in body for _, body in receiver_b.received)

            # neither workspace's key reaches anything of the other's
            for path in (f"/posts/{theirs['id']}", f"/posts/{theirs['id']}/timeline"):
                status, answer, _ = await api.call("GET", path)
                assert (status, answer["code"]) == (404, "post_not_found")
            for path in (f"/posts/{mine['id']}", f"/posts/{mine['id']}/timeline"):
                status, answer, _ = await api.call("GET", path, key=other_key, workspace=other)
                assert (status, answer["code"]) == (404, "post_not_found")
            _, listed, _ = await api.call("GET", "/posts")
            assert [p["id"] for p in listed["items"]] == [mine["id"]]
            _, hooks_a, _ = await api.call("GET", "/webhooks")
            assert [h["url"] for h in hooks_a["items"]] == [hooks[0][1]]
            _, accounts_b, _ = await api.call("GET", "/accounts", key=other_key, workspace=other)
            assert [a["base_url"] for a in accounts_b["items"]] == [f"http://127.0.0.1:{calm_port}"]
            _, waiting_b, _ = await api.call("GET", "/attention", key=other_key, workspace=other)
            assert all(item["post_id"] != mine["id"] for item in waiting_b["items"])
        finally:
            for runner, _ in hooks:
                await runner.cleanup()
            await limited_runner.cleanup()
            await calm_runner.cleanup()

    run_api(store_url, scenario, generic_platform=False)
