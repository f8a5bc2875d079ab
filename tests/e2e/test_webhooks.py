"""Webhooks over real HTTP: signed outbound deliveries announced once, retried, replayed;
inbound callbacks checked on raw bytes, refused when forged or stale, deduplicated."""

from __future__ import annotations

import hashlib
import hmac
import os
import uuid
from datetime import timedelta
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web

from infrastructure.platforms.simulator import Simulator, start
from infrastructure.webhook_client import WebhookClient
from services.dispatcher import DispatchSettings
from services.webhooks import sign, verify
from tests.e2e.conftest import Api, post_body, run_api
from tests.loopback import serve


class Receiver:
    """A webhook receiver on 127.0.0.1 that answers with the statuses it is given."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.received: list[tuple[dict[str, str], bytes]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append((dict(request.headers), await request.read()))
        return web.Response(status=self.statuses.pop(0) if self.statuses else 200)

    async def start(self) -> tuple[web.AppRunner, str]:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        runner, url = await serve(app)
        return runner, f"{url}/hook"


async def deliver_one_post(api: Api, sim_url: str, session: aiohttp.ClientSession) -> str:
    _, post, _ = await api.call("POST", "/posts", post_body(mode="now", scheduled_at=None))
    router = api.ctx.herald.simulator_router(sim_url, session, timeout=2)
    dispatcher = api.ctx.herald.dispatcher(router, DispatchSettings("w"))
    await dispatcher.tick()
    return str(post["id"])


def counted(outcome: str) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value("herald_webhook_deliveries_total", {"outcome": outcome}) or 0.0


def test_a_final_outcome_is_announced_once_signed_and_retried(store_url: str) -> None:
    async def scenario(api: Api) -> None:
        receiver = Receiver([500])  # the first attempt fails
        hook_runner, hook_url = await receiver.start()
        sim_runner, port = await start(Simulator())
        _, endpoint, _ = await api.call("POST", "/webhooks", {"url": hook_url, "events": ["post.delivered"]})
        assert endpoint["secret"].startswith("whsec_")
        async with aiohttp.ClientSession() as session:
            post_id = await deliver_one_post(api, f"http://127.0.0.1:{port}", session)
            sender = api.ctx.herald.webhook_sender()
            failed, delivered = counted("failed"), counted("delivered")
            assert await sender.tick(WebhookClient(session)) == 1  # attempt 1: 500
            assert counted("failed") == failed + 1  # the metric moves with each delivery attempt
            assert await sender.tick(WebhookClient(session)) == 0  # backing off
            api.clock.advance(seconds=30)
            assert await sender.tick(WebhookClient(session)) == 1  # attempt 2: 200
            assert counted("delivered") == delivered + 1
            api.clock.advance(hours=2)
            assert await sender.tick(WebhookClient(session)) == 0  # announced once, never again
            (first_headers, body), (headers, same) = receiver.received
            assert body == same and first_headers["Herald-Delivery-Id"] == headers["Herald-Delivery-Id"]
            sent_at = api.clock() - timedelta(hours=2)
            verify(endpoint["secret"], headers["Herald-Timestamp"], headers["Herald-Signature"], body, sent_at)
            assert b'"type":"post.delivered"' in body and post_id.encode() in body
            attempts = [
                r
                for r in api.ctx.webhooks.get(uuid.UUID(headers["Herald-Delivery-Id"])).__dict__.items()
                if r[0] == "_version"
            ]
            assert attempts == [("_version", 3)]  # planned, attempted (500), attempted (200)

            count = sender.replay(api.clock() - timedelta(days=1))
            assert count == 1 and await sender.tick(WebhookClient(session)) == 1 and len(receiver.received) == 3
        await hook_runner.cleanup()
        await sim_runner.cleanup()

    run_api(store_url, scenario)


def receiver_check(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """What the docs show a receiver doing: recompute, compare in constant time."""
    expected = hmac.new(secret.encode(), headers["Herald-Timestamp"].encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest("v1=" + expected, headers["Herald-Signature"])


def test_the_documented_receiver_check_matches_the_signature() -> None:
    body = b'{"type":"post.failed"}'
    headers = {"Herald-Timestamp": "1790000000", "Herald-Signature": "v1=" + sign("whsec_x", "1790000000", body)}
    assert receiver_check("whsec_x", headers, body)
    assert not receiver_check("whsec_x", headers, body + b" ")


@pytest.fixture
def inbound_secret(monkeypatch: pytest.MonkeyPatch) -> str:
    secret = "inbound-" + os.urandom(8).hex()
    monkeypatch.setenv("HERALD_INBOUND_SECRET", secret)
    return secret


def test_inbound_callbacks_are_checked_deduplicated_and_settle_ambiguity(store_url: str, inbound_secret: str) -> None:
    async def scenario(api: Api) -> None:
        sim_runner, port = await start(Simulator(faults={"accept_drop": 1.0}))
        async with aiohttp.ClientSession() as session:
            post_id = await deliver_one_post(api, f"http://127.0.0.1:{port}", session)
        await sim_runner.cleanup()
        assert api.ctx.posts.get_post(uuid.UUID(post_id)).state == "ambiguous"
        body = f'{{"post_id": "{post_id}", "remote_id": "r-77"}}'.encode()

        async def send(raw: bytes, *, secret: str = inbound_secret, delivery: str = "d1", age: int = 0) -> Any:
            stamp = str(int(api.clock().timestamp()) - age)
            headers = {
                "Herald-Timestamp": stamp,
                "Herald-Signature": "v1=" + sign(secret, stamp, raw),
                "Herald-Delivery-Id": delivery,
                "Content-Type": "application/json",
            }
            async with api.session.post(f"{api.root}/v1/inbound/mastodon", data=raw, headers=headers) as answer:
                return answer.status, await answer.json()

        forged = await send(body, secret="not-the-secret")
        assert forged == (401, forged[1]) and forged[1]["code"] == "signature_invalid"
        stale = await send(body, age=6 * 60)
        assert stale[0] == 401 and stale[1]["field"] == "Herald-Timestamp"
        accepted = await send(body)
        assert accepted[0] == 200 and accepted[1] == {"accepted": True, "duplicate": False}
        post = api.ctx.posts.get_post(uuid.UUID(post_id))
        assert (post.state, post.remote_id, post.reconciled) == ("delivered", "r-77", True)
        events_after_first = api.ctx.posts.history(uuid.UUID(post_id))
        replayed = await send(body)
        assert replayed == (200, {"accepted": True, "duplicate": True})
        assert len(api.ctx.posts.history(uuid.UUID(post_id))) == len(events_after_first)

    run_api(store_url, scenario)


def test_an_account_disconnection_is_announced(store_url: str) -> None:
    async def scenario(api: Api) -> None:
        receiver = Receiver([])
        hook_runner, hook_url = await receiver.start()
        await api.call("POST", "/webhooks", {"url": hook_url, "events": ["account.disconnected"]})
        await api.call(
            "POST",
            "/accounts",
            {
                "name": "acme-x",
                "platform": "x",
                "handle": "acme",
                "remote_user_id": "1",
                "credentials": {"access_token": "t"},
            },
        )
        status, account, _ = await api.call("POST", "/accounts/acme-x/disconnect")
        assert (status, account["state"]) == (200, "disconnected")
        async with aiohttp.ClientSession() as session:
            assert await api.ctx.herald.webhook_sender().tick(WebhookClient(session)) == 1
        ((headers, body),) = receiver.received
        assert headers["Herald-Event"] == "account.disconnected" and b'"account":"acme-x"' in body
        await hook_runner.cleanup()

    run_api(store_url, scenario)


def test_an_endpoint_secret_is_not_kept_in_plain_text_even_for_replays(sqlite_url: str) -> None:
    async def scenario(api: Api) -> None:
        body = {"url": "http://127.0.0.1:9/hook", "events": ["post.failed"]}
        first = await api.call("POST", "/webhooks", body, idem="hook-1")
        again = await api.call("POST", "/webhooks", body, idem="hook-1")
        assert first[1] == again[1] and again[2]["Idempotent-Replayed"] == "true"  # the replay still shows it
        secret = first[1]["secret"].encode()
        folder = sqlite_url.removeprefix("sqlite:///").rsplit("/", 1)[0]
        stored = b"".join(p.read_bytes() for p in __import__("pathlib").Path(folder).iterdir())
        assert secret not in stored

    run_api(sqlite_url, scenario)


def test_a_recurring_rules_occurrence_is_announced_with_its_posts(store_url: str) -> None:
    async def scenario(api: Api) -> None:
        from datetime import UTC, datetime

        receiver = Receiver([])
        hook_runner, hook_url = await receiver.start()
        await api.call("POST", "/webhooks", {"url": hook_url, "events": ["rule.materialised"]})
        rule = {
            "name": "mornings",
            "timezone": "Europe/Paris",
            "at": "09:00",
            "starts": "2026-11-24",
            "rrule": "FREQ=DAILY;COUNT=2",
            "content": {"text": "Good morning"},
            "targets": [{"account": "acme", "platform": "mastodon"}],
        }
        _, made, _ = await api.call("POST", "/rules", rule)
        api.clock.now = datetime(2026, 11, 23, 12, tzinfo=UTC)
        [occurrence] = api.ctx.herald.recurring.materialise()
        async with aiohttp.ClientSession() as session:
            assert await api.ctx.herald.webhook_sender().tick(WebhookClient(session)) == 1
        ((headers, body),) = receiver.received
        assert headers["Herald-Event"] == "rule.materialised"
        assert f'"rule_id":"{made["id"]}"'.encode() in body and str(occurrence.post_ids[0]).encode() in body
        await hook_runner.cleanup()

    run_api(store_url, scenario)


def test_a_plan_is_announced_once_when_its_last_post_ends(store_url: str) -> None:
    async def scenario(api: Api) -> None:
        receiver = Receiver([])
        hook_runner, hook_url = await receiver.start()
        await api.call("POST", "/webhooks", {"url": hook_url, "events": ["plan.completed"]})
        body = {
            "name": "launch",
            "content": {"text": "We launch today"},
            "targets": [{"account": "acme", "platform": "mastodon"}, {"account": "acme-bsky", "platform": "bluesky"}],
            "scheduled_at": "2026-11-24T09:00",
            "timezone": "Europe/Paris",
        }
        _, plan, _ = await api.call("POST", "/plans", body)
        first, second = (post["id"] for post in plan["posts"])
        sender = api.ctx.herald.webhook_sender()
        async with aiohttp.ClientSession() as session:
            await api.call("POST", f"/posts/{first}/cancel", {})
            assert await sender.tick(WebhookClient(session)) == 0  # one post still to go
            await api.call("POST", f"/posts/{second}/cancel", {})
            assert await sender.tick(WebhookClient(session)) == 1
            assert await sender.tick(WebhookClient(session)) == 0  # once
        ((headers, raw),) = receiver.received
        assert headers["Herald-Event"] == "plan.completed"
        announced = orjson.loads(raw)
        assert announced["plan_id"] == plan["id"] and announced["plan"] == "launch"
        assert announced["data"] == {"status": "ended", "states": {"canceled": 2}}
        await hook_runner.cleanup()

    run_api(store_url, scenario)
