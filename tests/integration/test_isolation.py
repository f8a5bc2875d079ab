"""One bad account or post stops only itself: a platform with no adapter, credentials sealed
with another key, an adapter that raises, or a post whose events this version cannot read.
Each is recorded with a clear reason (held, or ambiguous), and every other post in the batch
goes out. And a 401: one refresh per account, shared by its posts in flight, then the same
request again; when no refresh helps, the account's posts are held, not failed."""

from __future__ import annotations

import base64
import os
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import orjson
import pytest
from aiohttp import web
from eventsourcing.persistence import StoredEvent

from domain.content import Content, Platform
from domain.outcomes import Observed
from services.routing import AccountRouter
from tests.integration.world import World, run
from tests.loopback import serve

pytestmark = pytest.mark.usefixtures("secret_key")


def router(world: World) -> AccountRouter:
    found = world.dispatcher.router
    assert isinstance(found, AccountRouter)
    return found


def test_a_platform_with_no_adapter_holds_only_its_own_posts(store_url: str) -> None:
    async def scenario(world: World) -> None:
        world.connect("acme-x", "x", "1001")
        world.connect("acme-m", "mastodon", "2002")
        router(world).adapters.pop(Platform.X)  # this Herald cannot publish to X
        stuck = world.post("acme-x", "x", "no way out")
        fine = world.post("acme-m", "mastodon", "goes out")
        await world.dispatcher.tick()
        held = world.posts.get_post(stuck)
        assert (held.state, held.waiting_for) == ("held", "platform_unsupported")
        assert world.posts.get_post(fine).state == "delivered"

    run(store_url, scenario)


def test_credentials_sealed_with_another_key_hold_only_that_account(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def scenario(world: World) -> None:
        world.connect("old", "mastodon", "2002")  # sealed with the key of the time
        monkeypatch.setenv("HERALD_SECRET_KEY", base64.urlsafe_b64encode(os.urandom(32)).decode())
        world.accounts._sealer = None  # the process starts again with another key
        world.connect("new", "mastodon", "2003")
        unreadable = world.post("old", "mastodon", "sealed elsewhere")
        fine = world.post("new", "mastodon", "sealed here")
        await world.dispatcher.tick()
        held = world.posts.get_post(unreadable)
        assert (held.state, held.waiting_for) == ("held", "credentials_unreadable")
        assert "HERALD_SECRET_KEY" in (held.remediation or "")
        assert world.posts.get_post(fine).state == "delivered"

    run(store_url, scenario)


def test_an_adapter_that_raises_makes_only_its_post_ambiguous(store_url: str) -> None:
    async def scenario(world: World) -> None:
        world.connect("acme-m", "mastodon", "2002")
        adapter = router(world).adapters[Platform.MASTODON]
        publish = adapter.publish

        async def breaks_on_one(intent: Any, account: Any, progress: Any) -> Observed:
            if intent.content.text == "the adapter trips":
                raise ZeroDivisionError("a bug in the adapter")
            return await publish(intent, account, progress)

        adapter.publish = breaks_on_one  # type: ignore[method-assign]
        tripped = world.post("acme-m", "mastodon", "the adapter trips")
        fine = world.post("acme-m", "mastodon", "goes out")
        await world.dispatcher.tick()
        assert world.events(tripped)[-1] == "OutcomeAmbiguous"
        assert world.posts.history(tripped)[-1].data["reason"] == "adapter_error"
        assert world.posts.get_post(fine).state == "delivered"

    run(store_url, scenario)


def test_a_post_this_version_cannot_read_is_left_alone_and_the_rest_go_out(store_url: str) -> None:
    async def scenario(world: World) -> None:
        world.connect("acme-m", "mastodon", "2002")
        herald = world.herald
        odd = herald.posts.new_post("acme-m", "mastodon", Content(text="from the future"), None, "default", None)
        odd.schedule(world.clock.now, now=world.clock(), publish_now=True)
        stored = [herald.events.mapper.to_stored_event(event) for event in odd.collect_events()]
        data = orjson.loads(stored[0].state)
        data["platform"] = "tiktok"  # a platform this version does not know
        stored[0] = StoredEvent(stored[0].originator_id, 1, stored[0].topic, orjson.dumps(data))
        herald.events.recorder.insert_events(stored)
        fine = world.post("acme-m", "mastodon", "goes out")
        await world.dispatcher.tick()
        await world.dispatcher.tick()
        assert world.posts.get_post(fine).state == "delivered"
        assert [p["text"] for p in world.sim.posts] == ["goes out"]

    run(store_url, scenario)


def test_a_401_is_answered_by_one_refresh_shared_by_every_post_in_flight(store_url: str) -> None:
    async def scenario(world: World) -> None:
        world.connect("acme-x", "x", "1001")
        world.sim.revoke("1001", refresh_too=False)  # the access token is refused; the refresh token works
        posts = [world.post("acme-x", "x", f"after the refresh {n}") for n in range(3)]
        await world.dispatcher.tick()
        for post_id in posts:
            delivered = world.posts.history(post_id)[-1]
            assert delivered.name == "Delivered" and delivered.data["observed"]["auth_refreshed"]
        assert len(world.sim.posts) == 3
        assert world.sim.state["x_refreshes"] == 1  # one refresh, shared by the three
        assert world.accounts.get("default", "acme-x").state == "connected"

    run(store_url, scenario)


def test_when_no_refresh_helps_the_accounts_posts_are_held_then_go_out_on_reconnect(store_url: str) -> None:
    async def scenario(world: World) -> None:
        world.connect("acme-x", "x", "1001")
        world.sim.revoke("1001", refresh_too=True)
        in_flight = [world.post("acme-x", "x", f"held {n}") for n in range(2)]
        await world.dispatcher.tick()
        queued = world.post("acme-x", "x", "held too")
        await world.dispatcher.tick()
        for post_id in (*in_flight, queued):
            post = world.posts.get_post(post_id)
            assert (post.state, post.failure_reason) == ("held", None), post
        assert world.accounts.get("default", "acme-x").disconnect_reason in ("refresh_failed", "auth_revoked")
        grant = world.sim.grant("1001")
        world.accounts.reconnect(
            "default", "acme-x", {"access_token": grant["access_token"], "refresh_token": grant["refresh_token"]}, None
        )
        world.clock.advance(seconds=5)
        await world.dispatcher.tick()
        await world.dispatcher.tick()
        assert {world.posts.get_post(p).state for p in (*in_flight, queued)} == {"delivered"}
        assert sorted(p["text"] for p in world.sim.posts) == ["held 0", "held 1", "held too"]

    run(store_url, scenario)


def test_a_token_refused_right_after_its_refresh_disconnects_the_account_and_holds_its_posts(
    store_url: str,
) -> None:
    """A held post never sits behind an account that looks connected: the owner is told."""

    async def scenario(world: World) -> None:
        world.connect("acme-x", "x", "1001")
        post_id = world.post("acme-x", "x", "refused twice")
        world.sim.faults = {"http_401": 1.0}  # every publish refused; the refresh itself works
        await world.dispatcher.tick()
        post = world.posts.get_post(post_id)
        assert (post.state, post.failure_reason) == ("held", None)
        account = world.accounts.get("default", "acme-x")
        assert (account.state, account.disconnect_reason) == ("disconnected", "refused_after_refresh")
        world.sim.faults = {}
        grant = world.sim.grant("1001")
        world.accounts.reconnect(
            "default", "acme-x", {"access_token": grant["access_token"], "refresh_token": grant["refresh_token"]}, None
        )
        world.clock.advance(seconds=5)
        await world.dispatcher.tick()
        await world.dispatcher.tick()
        assert world.posts.get_post(post_id).state == "delivered"
        assert [p["text"] for p in world.sim.posts] == ["refused twice"]

    run(store_url, scenario)


def test_a_look_up_refused_with_401_refreshes_the_token_and_looks_again(store_url: str) -> None:
    async def scenario(world: World) -> None:
        world.connect("acme-x", "x", "1001")
        post_id = world.post("acme-x", "x", "landed, answer lost")
        world.sim.faults = {"accept_drop": 1.0}
        await world.dispatcher.tick()
        assert world.posts.get_post(post_id).state == "ambiguous"
        world.sim.faults = {}
        world.sim.revoke("1001", refresh_too=False)  # the look-up's token is refused; a refresh fixes it
        await world.dispatcher.tick()
        post = world.posts.get_post(post_id)
        assert (post.state, post.reconciled) == ("delivered", True)
        assert world.sim.state["x_refreshes"] == 1

    run(store_url, scenario)


def test_held_posts_that_cannot_go_yet_never_hide_one_that_can(store_url: str) -> None:
    """The reconciler walks round every held post, a batch at a time: a long-dead account's
    backlog (first in line) does not keep a reconnected account's post held."""

    async def scenario(world: World) -> None:
        world.dispatcher.reconciler.batch = 2
        for name, user in (("dead-x", "1001"), ("fine-x", "1002")):
            world.connect(name, "x", user)
            world.accounts.disconnect("default", name, "by_request", "reconnect it")
        backlog = [
            world.posts.publish_now(
                account="dead-x", platform="x", content=Content(text=f"dead {n}"), post_id=UUID(int=n + 1)
            )
            for n in range(5)
        ]
        last = UUID("ffffffff-ffff-4fff-bfff-ffffffffffff")
        waiting = world.posts.publish_now(account="fine-x", platform="x", content=Content(text="fine"), post_id=last)
        await world.dispatcher.tick()
        assert {world.posts.get_post(p).state for p in (*backlog, waiting)} == {"held"}
        grant = world.sim.grant("1002")
        world.accounts.reconnect(
            "default", "fine-x", {"access_token": grant["access_token"], "refresh_token": grant["refresh_token"]}, None
        )
        world.clock.advance(seconds=1)
        for _ in range(4):  # ceil(6 held / 2 per batch) + the publish
            await world.dispatcher.tick()
        assert world.posts.get_post(waiting).state == "delivered"
        assert {world.posts.get_post(p).state for p in backlog} == {"held"}

    run(store_url, scenario)


async def rate_limiting_host(header: str, value: str) -> tuple[web.AppRunner, str]:
    """An instance of the user's choosing that answers every post with a 429 whose reset
    header is `value`."""

    async def limited(_: web.Request) -> web.Response:
        return web.json_response({"error": "Too many requests"}, status=429, headers={header: value})

    async def instance(_: web.Request) -> web.Response:
        return web.json_response({"configuration": {"statuses": {"max_characters": 500}}})

    app = web.Application()
    app.router.add_post("/api/v1/statuses", limited)
    app.router.add_post("/2/tweets", limited)
    app.router.add_get("/api/v2/instance", instance)
    return await serve(app)


async def beside_a_fine_account(world: World, host: web.AppRunner, platform: str, text: str, **account: Any) -> Any:
    """A post on account "odd" (`account`: where and how it connects) dispatched with one on a
    fine Mastodon account, until both are recorded; the fine one must be delivered whatever
    the odd one's host did. The odd post's id."""
    try:
        world.connect("fine", "mastodon", "2002")
        world.accounts.connect(name="odd", platform=platform, **account)
        odd = world.post("odd", platform, text)
        fine = world.post("fine", "mastodon", "goes out")
        await world.dispatcher.tick()
        await world.dispatcher.drain()
    finally:
        await host.cleanup()
    assert world.posts.get_post(fine).state == "delivered"
    return odd


@pytest.mark.parametrize(
    ("platform", "header", "value"),
    [
        ("mastodon", "X-RateLimit-Reset", "in five minutes, without a zone"),  # Mastodon sends one
        ("mastodon", "X-RateLimit-Reset", "soon"),
        ("x", "x-rate-limit-reset", "99999999999999"),  # past the year 9999
    ],
)
def test_a_rate_limit_with_an_odd_reset_waits_and_the_batch_goes_out(
    store_url: str, platform: str, header: str, value: str
) -> None:
    """A 429 whose reset header a host got wrong: the post waits (at the reset, read as UTC, or
    by the policy's backoff) and every other post of the batch is recorded. A naive instant
    broke the decision, and with it the record of the whole batch."""

    async def scenario(world: World) -> None:
        soon = world.clock.now + timedelta(minutes=5)
        naive = value == "in five minutes, without a zone"
        reset = soon.strftime("%Y-%m-%dT%H:%M:%SZ") if naive else None
        host, url = await rate_limiting_host(header, soon.strftime("%Y-%m-%dT%H:%M:%S") if naive else value)
        limited = await beside_a_fine_account(
            world,
            host,
            platform,
            "waits for the reset",
            handle="odd",
            remote_user_id="9009",
            credentials={"access_token": "t"},
            base_url=url,
        )
        last = world.posts.history(limited)[-1]
        assert (last.name, last.data["observed"]["kind"]) == ("AttemptFailed", "rate_limited")  # waits, then again
        assert last.data["next_attempt_at"] == (reset or last.data["next_attempt_at"])  # else the policy's backoff

    run(store_url, scenario)


def test_an_attempt_that_breaks_after_its_send_leaves_the_batchs_others_recorded(store_url: str) -> None:
    async def scenario(world: World) -> None:
        world.connect("acme-m", "mastodon", "2002")
        tripped = world.post("acme-m", "mastodon", "its bookkeeping trips")
        fine = world.post("acme-m", "mastodon", "goes out")
        attempted = world.dispatcher.metrics.attempted
        tripped_once: list[bool] = []

        def breaks_once(*args: Any) -> None:
            if not tripped_once:
                tripped_once.append(True)
                raise ZeroDivisionError("a bug after the send")
            attempted(*args)

        world.dispatcher.metrics.attempted = breaks_once  # type: ignore[method-assign,assignment]
        await world.dispatcher.tick()
        await world.dispatcher.drain()
        states = {world.posts.get_post(p).state for p in (tripped, fine)}
        assert states == {"delivered", "dispatched"}  # the broken one waits for its lease, visibly

    run(store_url, scenario)


async def refused_then_refreshing(
    world: World, platform: str, refresh: str, answer: dict[str, str], text: str, status: int = 200
) -> Any:
    """A post on an account whose host refuses its token everywhere and answers its refresh
    (at path `refresh`) with `answer` and `status`, dispatched beside a fine account's post."""

    async def expired(_: web.Request) -> web.Response:
        error = {"error": "ExpiredToken", "message": "Token has expired", "title": "Unauthorized"}
        return web.json_response(error, status=400 if platform == "bluesky" else 401)

    async def refreshing(_: web.Request) -> web.Response:
        return web.json_response(answer, status=status)

    app = web.Application()
    app.router.add_post(refresh, refreshing)
    app.router.add_route("*", "/{tail:.*}", expired)
    host, url = await serve(app)
    return await beside_a_fine_account(
        world,
        host,
        platform,
        text,
        handle="odd.example",
        remote_user_id="did:plc:odd" if platform == "bluesky" else "9009",
        credentials={"access_jwt": "a", "refresh_jwt": "r", "access_token": "a", "refresh_token": "r"},
        base_url=url,
    )


@pytest.mark.parametrize(
    ("platform", "refresh", "answer"),
    [
        ("bluesky", "/xrpc/com.atproto.server.refreshSession", {"hello": "there"}),  # no session in it
        ("x", "/2/oauth2/token", {"access_token": "n", "expires_in": "soon"}),  # no number of seconds
    ],
)
def test_a_refresh_answered_with_nonsense_disconnects_only_that_account(
    store_url: str, platform: str, refresh: str, answer: dict[str, str]
) -> None:
    """A host refuses the token, then answers the refresh with a body Herald cannot read: the
    account is disconnected and its post held, as for a refused refresh, and the batch's
    other post goes out."""

    async def scenario(world: World) -> None:
        odd = await refused_then_refreshing(world, platform, refresh, answer, "held, visibly")
        held = world.posts.get_post(odd)
        assert (held.state, held.waiting_for) == ("held", "auth_revoked"), [r.name for r in world.posts.history(odd)]

    run(store_url, scenario)


@pytest.mark.parametrize(
    ("platform", "refresh", "status"),
    [
        ("x", "/2/oauth2/token", 503),
        ("x", "/2/oauth2/token", 429),
        ("bluesky", "/xrpc/com.atproto.server.refreshSession", 502),
    ],
)
def test_a_refresh_the_platform_does_not_answer_keeps_the_account_and_tries_again(
    store_url: str, platform: str, refresh: str, status: int
) -> None:
    """A host refuses the token, then answers the refresh with a 5xx or a 429. That says nothing
    against the refresh token: the account stays connected, and the post, refused before it was
    accepted, is tried again after the backoff. Before, the account was disconnected and its
    posts held until someone reconnected it."""

    async def scenario(world: World) -> None:
        busy = {"title": "Service Unavailable"}
        odd = await refused_then_refreshing(world, platform, refresh, busy, "tried again", status)
        account = world.accounts.get("default", "odd")
        assert (account.state, account.disconnect_reason) == ("connected", None)
        post = world.posts.get_post(odd)
        last = world.posts.history(odd)[-1]
        assert (post.state, last.name, last.data["observed"]["kind"]) == ("queued", "AttemptFailed", "connect_error")
        assert "did not answer the refresh" in last.data["observed"]["message"]
        assert last.data["next_attempt_at"]  # after the backoff

    run(store_url, scenario)


def test_once_the_refresh_is_answered_the_post_goes_out(store_url: str) -> None:
    """The same host, mended: the retry's 401 is answered by a refresh that works, and the posts
    go out with the new token. While it did not answer, the posts in flight behind the first
    refused token asked it once between them, not once each."""

    async def scenario(world: World) -> None:
        mended: list[bool] = []
        asked: list[str] = []

        async def tweets(request: web.Request) -> web.Response:
            if request.headers.get("Authorization") != "Bearer fresh":
                return web.json_response({"title": "Unauthorized", "status": 401}, status=401)
            return web.json_response({"data": {"id": uuid4().hex, "text": "tried again"}}, status=201)

        async def token(_: web.Request) -> web.Response:
            asked.append("mended" if mended else "busy")
            if not mended:
                return web.json_response({"title": "Service Unavailable"}, status=503)
            return web.json_response({"access_token": "fresh", "refresh_token": "r2", "expires_in": 7200})

        app = web.Application()
        app.router.add_post("/2/oauth2/token", token)
        app.router.add_post("/2/tweets", tweets)
        host, url = await serve(app)
        try:
            world.accounts.connect(
                name="odd",
                platform="x",
                handle="odd",
                remote_user_id="9009",
                credentials={"access_token": "a", "refresh_token": "r"},
                base_url=url,
            )
            posts = [world.post("odd", "x", f"tried again {n}") for n in range(3)]
            await world.dispatcher.tick()
            await world.dispatcher.drain()
            assert {world.posts.get_post(p).state for p in posts} == {"queued"}
            assert asked == ["busy"]
            mended.append(True)
            world.clock.advance(seconds=300)
            await world.dispatcher.tick()
            await world.dispatcher.drain()
        finally:
            await host.cleanup()
        assert {world.posts.get_post(p).state for p in posts} == {"delivered"}
        assert asked == ["busy", "mended"]
        assert world.accounts.get("default", "odd").state == "connected"

    run(store_url, scenario)
