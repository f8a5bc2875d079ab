"""One scenario per row of DESIGN.md's outcome table, through the real simulator over HTTP.

The dispatcher runs in-process on an injected clock: each test ticks it, reads what was
recorded, moves the clock, and ticks again. Nothing sleeps to let time pass.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any
from uuid import UUID

import aiohttp

from domain.content import Content
from domain.decisions import RetryPolicy
from infrastructure.bootstrap import Herald, bootstrap
from infrastructure.platforms.simulator import Simulator, start
from services.dispatcher import Dispatcher, DispatchSettings
from services.results import PostSettings
from tests.clock import ManualClock

SETTINGS = PostSettings(
    grace=timedelta(minutes=30),
    lease=timedelta(seconds=60),
    retry_policy=RetryPolicy(base_seconds=10, cap_seconds=60, max_attempts=3, jitter=0),
)

Scenario = Callable[[Herald, Dispatcher, Simulator, ManualClock], Awaitable[None]]


def run(store_url: str, scenario: Scenario, *, port_override: int | None = None) -> None:
    async def main() -> None:
        clock = ManualClock()
        service = bootstrap(store_url, clock=clock, settings=SETTINGS)
        simulator = Simulator(seed=1)
        runner, port = await start(simulator)
        async with aiohttp.ClientSession() as session:
            url = f"http://127.0.0.1:{port_override or port}"
            platforms = service.simulator_router(url, session, timeout=2.0)
            dispatcher = service.dispatcher(platforms, DispatchSettings(worker="t"))
            try:
                await scenario(service, dispatcher, simulator, clock)
            finally:
                await runner.cleanup()
                service.close()

    asyncio.run(main())


def due_post(service: Herald, clock: ManualClock, account: str = "acme") -> UUID:
    return service.posts.publish_now(account=account, platform="mastodon", content=Content(text="Hello"))


def names(service: Herald, post_id: UUID) -> list[str]:
    return [record.name for record in service.posts.history(post_id)]


def last(service: Herald, post_id: UUID) -> dict[str, Any]:
    return service.posts.history(post_id)[-1].data


def test_2xx_delivers_with_the_remote_id_and_permalink(store_url: str) -> None:
    async def scenario(service: Herald, dispatcher: Dispatcher, sim: Simulator, clock: ManualClock) -> None:
        post_id = due_post(service, clock)
        await dispatcher.tick()
        post = service.posts.get_post(post_id)
        assert post.state == "delivered"
        assert post.remote_id == sim.posts[0]["id"] and post.permalink == sim.posts[0]["permalink"]
        assert sim.posts[0]["publish_key"] == post.publish_key

    run(store_url, scenario)


def test_a_connect_error_retries_with_the_same_key(store_url: str) -> None:
    async def scenario(service: Herald, dispatcher: Dispatcher, sim: Simulator, clock: ManualClock) -> None:
        post_id = due_post(service, clock)
        await dispatcher.tick()  # nothing listens on port 9: refused before any byte was sent
        assert names(service, post_id)[-1] == "AttemptFailed"
        assert last(service, post_id)["observed"]["kind"] == "connect_error"
        assert service.posts.get_post(post_id).state == "queued"

    run(store_url, scenario, port_override=9)


def test_accept_then_drop_is_ambiguous_and_reconciled_without_a_second_publish(store_url: str) -> None:
    async def scenario(service: Herald, dispatcher: Dispatcher, sim: Simulator, clock: ManualClock) -> None:
        post_id = due_post(service, clock)
        sim.faults = {"accept_drop": 1.0}
        await dispatcher.tick()
        assert names(service, post_id)[-1] == "OutcomeAmbiguous"
        sim.faults = {}
        await dispatcher.tick()
        post = service.posts.get_post(post_id)
        assert (post.state, post.reconciled) == ("delivered", True)
        assert "found on the platform" in last(service, post_id)["evidence"]
        assert len(sim.posts) == 1 and sim.requests == 1

    run(store_url, scenario)


def test_a_slow_answer_past_the_timeout_is_ambiguous_then_found(store_url: str) -> None:
    async def scenario(service: Herald, dispatcher: Dispatcher, sim: Simulator, clock: ManualClock) -> None:
        post_id = due_post(service, clock)
        sim.faults = {"slow": 1.0, "slow_seconds": 3.0}  # the client gives up after 2 s
        await dispatcher.tick()
        assert last(service, post_id)["reason"] == "timeout_after_send"
        await dispatcher.tick()
        assert service.posts.get_post(post_id).reconciled and len(sim.posts) == 1

    run(store_url, scenario)


def test_ambiguous_and_not_on_the_platform_is_released_then_published_once(store_url: str) -> None:
    async def scenario(service: Herald, dispatcher: Dispatcher, sim: Simulator, clock: ManualClock) -> None:
        post_id = due_post(service, clock)
        sim.faults = {"accept_drop": 1.0}
        await dispatcher.tick()
        sim.posts.clear()  # the platform lost it after all
        sim.faults = {}
        await dispatcher.tick()  # reconciler: not found, deadline ahead → released
        await dispatcher.tick()  # published again under the same key
        assert names(service, post_id)[-3:] == ["ReleasedForRetry", "DispatchClaimed", "Delivered"]
        assert len(sim.posts) == 1

    run(store_url, scenario)


def test_a_429_waits_for_the_reset_and_pauses_only_that_account(store_url: str) -> None:
    async def scenario(service: Herald, dispatcher: Dispatcher, sim: Simulator, clock: ManualClock) -> None:
        limited = due_post(service, clock, account="limited")
        sim.faults = {"http_429": 1.0, "retry_after": 30}
        await dispatcher.tick()
        assert last(service, limited)["next_attempt_at"] == (clock.now + timedelta(seconds=30)).isoformat().replace(
            "+00:00", "Z"
        )
        sim.faults = {}
        other = due_post(service, clock, account="other")
        same = due_post(service, clock, account="limited")
        await dispatcher.tick()
        assert service.posts.get_post(other).state == "delivered"  # the pause is per account
        assert service.posts.get_post(same).state == "queued"
        clock.advance(seconds=30)
        await dispatcher.tick()
        assert {service.posts.get_post(p).state for p in (limited, same)} == {"delivered"}

    run(store_url, scenario)


def test_5xx_backs_off_then_fails_as_retries_exhausted_once_proven_absent(store_url: str) -> None:
    """A 5xx may come after the platform kept the post: out of retries, the post is looked for
    first, and fails only once the look proves it is not there."""

    async def scenario(service: Herald, dispatcher: Dispatcher, sim: Simulator, clock: ManualClock) -> None:
        post_id = due_post(service, clock)
        sim.faults = {"http_500": 1.0}
        for wait in (10, 20):
            await dispatcher.tick()
            assert service.posts.get_post(post_id).state == "queued"
            clock.advance(seconds=wait)
        await dispatcher.tick()
        assert (service.posts.get_post(post_id).state, last(service, post_id)["reason"]) == (
            "ambiguous",
            "retries_exhausted",
        )
        await dispatcher.tick()  # the reconciler looks
        post = service.posts.get_post(post_id)
        assert "Proven absent" in (post.remediation or "")
        assert (post.state, post.failure_reason, post.attempt) == ("failed", "retries_exhausted", 3)
        assert sim.posts == []

    run(store_url, scenario)


def test_401_holds_the_post_and_403_fails_it_as_content_rejected(store_url: str) -> None:
    """A 401 is refused before acceptance, but the platform could take the post once access is
    mended: it is held (visibly), never failed; a 403 duplicate of someone else's text fails."""

    async def scenario(service: Herald, dispatcher: Dispatcher, sim: Simulator, clock: ManualClock) -> None:
        revoked = due_post(service, clock)
        sim.faults = {"http_401": 1.0}
        await dispatcher.tick()
        rejected = due_post(service, clock)
        sim.faults = {"http_403": 1.0}
        await dispatcher.tick()
        held = service.posts.get_post(revoked)
        assert (held.state, held.waiting_for, held.failure_reason) == ("held", "auth_revoked", None)
        clock.advance(minutes=31)  # no account to reconnect on the generic platform: its deadline ends it
        await dispatcher.tick()
        assert service.posts.get_post(revoked).failure_reason == "deadline_passed"
        post = service.posts.get_post(rejected)
        assert post.failure_reason == "content_rejected"
        assert last(service, rejected)["observed"]["platform_code"] == "content_rejected"
        clock.advance(minutes=5)
        await dispatcher.tick()
        assert names(service, rejected)[-1] == "Failed"  # never retried

    run(store_url, scenario)


def test_a_post_past_its_deadline_fails_instead_of_going_out_late(store_url: str) -> None:
    async def scenario(service: Herald, dispatcher: Dispatcher, sim: Simulator, clock: ManualClock) -> None:
        post_id = due_post(service, clock)
        clock.advance(minutes=31)  # the dispatcher was down past the 30-minute grace
        await dispatcher.tick()
        assert service.posts.get_post(post_id).failure_reason == "deadline_passed"
        assert sim.requests == 0

    run(store_url, scenario)


def test_content_invalid_at_dispatch_fails_without_a_request(store_url: str) -> None:
    async def scenario(service: Herald, dispatcher: Dispatcher, sim: Simulator, clock: ManualClock) -> None:
        # scheduled when the rules allowed it (here: written straight through the domain)
        post = service.posts.new_post("acme", "x", Content(text="a" * 300), None, "default", None)
        post.schedule(clock.now, now=clock(), publish_now=True)
        service.events.save(post)
        await dispatcher.tick()
        view = service.posts.get_post(post.id)
        assert (view.state, view.failure_reason) == ("failed", "content_rejected")
        assert "part 1: text is 300 weighted characters, X allows 280" in (view.remediation or "")
        assert sim.requests == 0

    run(store_url, scenario)
