"""A dispatcher killed with SIGKILL mid-attempt: the lease ends, the post goes ambiguous, the
reconciler settles it, and the simulator's truth shows no second publish."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from datetime import UTC, datetime, timedelta
from uuid import UUID

import aiohttp
import pytest

from domain.content import Content
from infrastructure.bootstrap import Herald, bootstrap
from services.dispatcher import DispatchSettings
from tests.clock import ManualClock
from tests.processes import admin, reaped, start_dispatcher, start_simulator


def wait_for_claim(service: Herald, post_id: UUID, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while service.posts.get_post(post_id).state != "dispatched":
        assert time.monotonic() < deadline, "the dispatcher never claimed the post"
        time.sleep(0.05)


@pytest.mark.slow
def test_a_killed_dispatchers_claim_expires_and_is_reconciled_once(store_url: str) -> None:
    # the platform holds the request open: the worker is killed with the attempt in flight
    simulator, platform_url = start_simulator("slow=1.0,slow_seconds=120")
    clock = ManualClock(datetime.now(UTC))  # starts with the worker's real clock; then moved by hand
    service = bootstrap(store_url, clock=clock)
    stack = contextlib.ExitStack()
    stack.enter_context(reaped(simulator))
    with stack:
        post_id = service.posts.publish_now(account="acme", platform="x", content=Content(text="once"))
        worker = start_dispatcher(store_url, platform_url, "doomed", "--timeout", "100", HERALD_LEASE_SECONDS="300")
        wait_for_claim(service, post_id)
        deadline = time.monotonic() + 30
        while not admin(platform_url, "/admin/truth")["posts"]:  # the request reached the platform
            assert time.monotonic() < deadline
            time.sleep(0.05)
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
        admin(platform_url, "/admin/faults", {"faults": ""})

        post = service.posts.get_post(post_id)
        assert post.state == "dispatched" and post.worker == "doomed"
        clock.now = post.lease_until + timedelta(seconds=1)  # type: ignore[operator]

        async def reconcile() -> None:
            async with aiohttp.ClientSession() as session:
                platforms = service.simulator_router(platform_url, session, timeout=5)
                dispatcher = service.dispatcher(platforms, DispatchSettings("rescuer"))
                for _ in range(3):
                    await dispatcher.tick()

        asyncio.run(reconcile())
        names = [record.name for record in service.posts.history(post_id)]
        assert names[-3:] == ["DispatchClaimed", "OutcomeAmbiguous", "Delivered"]
        assert service.posts.history(post_id)[-2].data["reason"] == "lease_expired"
        assert service.posts.get_post(post_id).reconciled
        truth = admin(platform_url, "/admin/truth")["posts"]
        assert len(truth) == 1 and truth[0]["publish_key"] == service.posts.get_post(post_id).publish_key
    service.close()


@pytest.mark.slow
def test_sigterm_stops_claiming_and_records_what_was_in_flight(store_url: str) -> None:
    simulator, platform_url = start_simulator("slow=1.0,slow_seconds=1.5")  # every answer takes 1.5 s
    clock = ManualClock(datetime.now(UTC))
    service = bootstrap(store_url, clock=clock)
    stack = contextlib.ExitStack()
    stack.enter_context(reaped(simulator))
    with stack:
        ids = [
            service.posts.publish_now(account=f"a{n}", platform="x", content=Content(text=f"{n}")) for n in range(30)
        ]
        worker = start_dispatcher(
            store_url, platform_url, "graceful", "--timeout", "10", "--batch-size", "10", "--in-flight", "10"
        )
        stack.enter_context(reaped(worker))
        wait_for_claim(service, ids[0])
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0
        states = [service.posts.get_post(post_id).state for post_id in ids]
        assert "dispatched" not in states  # every claimed attempt has its outcome recorded
        assert states.count("delivered") == 10 and states.count("queued") == 20  # no new claims after SIGTERM
        assert len(admin(platform_url, "/admin/truth")["posts"]) == 10
    service.close()
