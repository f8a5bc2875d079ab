"""Engagement end to end: a post published through the simulator, then the fetcher at +1 h,
+24 h and +7 d on an injected clock. Each checkpoint becomes one event with the platform's
counts (a checkpoint left too late is recorded as missed, never taken late); the projection
serves them; a second fetcher makes nothing twice. The real adapters read the stand-ins' own
count endpoints (Mastodon's status, X's public_metrics, Bluesky's getPosts)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from PIL import Image

from domain.content import Content, Platform
from domain.engagement import Engagement, engagement_id
from domain.outcomes import Observation
from infrastructure.bootstrap import bootstrap
from infrastructure.platforms.simulator import Simulator, start
from infrastructure.report import report
from services.dispatcher import DispatchSettings
from services.ports import AccountAccess
from tests.clock import ManualClock
from tests.integration.test_adapters import Recorder, intent, run


def test_checkpoints_are_measured_once_each_with_the_platforms_counts(store_url: str, tmp_path: Path) -> None:
    clock = ManualClock()
    service = bootstrap(store_url, clock=clock)
    sim = Simulator(clock=clock)
    post_id = service.posts.publish_now(
        workspace="w", account="acme", platform=Platform.MASTODON, content=Content(text="counted")
    )

    async def scenario() -> dict[str, Any]:
        runner, port = await start(sim)
        try:
            async with aiohttp.ClientSession() as session:
                router = service.simulator_router(f"http://127.0.0.1:{port}", session, timeout=2)
                await service.dispatcher(router, DispatchSettings("w1")).tick()
                fetcher = service.engagement_fetcher(router)
                made = {"now": await fetcher.tick()}  # nothing is due yet
                clock.advance(hours=1, minutes=1)
                made["1h"] = await fetcher.tick()
                made["again"] = await service.engagement_fetcher(router).tick()  # a second fetcher
                clock.advance(hours=23)
                made["24h"] = await fetcher.tick()
                clock.advance(days=6, hours=2)  # two hours past +7 d: too late to be the 7 d count
                made["7d"] = await fetcher.tick()
                made["after"] = await fetcher.tick()
                return made
        finally:
            await runner.cleanup()

    made = asyncio.run(scenario())
    assert made == {"now": 0, "1h": 1, "again": 0, "24h": 1, "7d": 1, "after": 0}
    engagement = service.events.get(engagement_id(post_id))
    measured = [e for e in service.events.history(engagement.id) if isinstance(e, Engagement.Measured)]
    assert [e.checkpoint for e in measured] == ["1h", "24h", "7d"]
    remote = sim.posts[0]
    one_hour, one_day, week = measured
    assert one_hour.counts is not None and one_day.counts is not None
    assert one_day.counts.likes > one_hour.counts.likes  # audiences grow, as the stand-in's counts do
    assert week.counts is None and week.unavailable and week.unavailable.startswith("missed")
    assert remote["platform"] == "generic"
    samples = service.engagement_fetcher(None).view.samples("w", None, 100)  # type: ignore[arg-type]
    assert samples and samples[0][1] == one_day.counts.interactions  # the latest counts serve the heatmap
    (drawn,) = report(service, tmp_path / "w", zone=ZoneInfo("UTC"), workspace="w", only="best_windows")
    (empty,) = report(service, tmp_path / "none", zone=ZoneInfo("UTC"), workspace="none", only="best_windows")
    service.close()
    with Image.open(drawn) as one, Image.open(empty) as other:
        assert one.size == other.size == (1000, 600) and one.tobytes() != other.tobytes()


@pytest.mark.parametrize("platform", [Platform.MASTODON, Platform.X, Platform.BLUESKY])
def test_each_adapter_reads_the_platforms_counts(platform: Platform) -> None:
    async def scenario(adapter: Any, account: AccountAccess, sim: Simulator) -> None:
        observed = await adapter.publish(intent("count me"), account, Recorder())
        assert observed.kind is Observation.ACCEPTED, observed
        counts = await adapter.counts(observed.remote_id, account)
        truth = sim.counts_of(sim.find_post(platform.value, observed.remote_id))
        expected_reposts = truth["reposts"]
        assert (counts.likes, counts.reposts, counts.replies) == (truth["likes"], expected_reposts, truth["replies"])
        gone = await adapter.counts("999999999" if platform is not Platform.BLUESKY else "at://nobody/x/1", account)
        assert gone is None

    run(platform, scenario)


class Flaky:
    """The simulator's route, whose counts break (an adapter bug) for one post."""

    def __init__(self, route: Any, broken: str) -> None:
        self.route, self.broken = route, broken

    async def publish(self, intent: Any) -> Any:
        return await self.route.publish(intent)

    async def find(self, intent: Any) -> Any:
        return await self.route.find(intent)

    async def counts(self, remote_id: str) -> Any:
        if remote_id == self.broken:
            raise KeyError("favourites_count")  # a body the adapter did not expect
        return await self.route.counts(remote_id)


def test_one_post_whose_counts_break_stops_no_other(sqlite_url: str) -> None:
    from services.routing import FixedRouter

    clock = ManualClock()
    service = bootstrap(sqlite_url, clock=clock)
    sim = Simulator(clock=clock)
    for text in ("first", "second"):
        service.posts.publish_now(workspace="w", account="acme", platform=Platform.MASTODON, content=Content(text=text))

    async def scenario() -> int:
        runner, port = await start(sim)
        try:
            async with aiohttp.ClientSession() as session:
                router = service.simulator_router(f"http://127.0.0.1:{port}", session, timeout=2)
                await service.dispatcher(router, DispatchSettings("w1")).tick()
                broken = sim.posts[0]["id"]
                fetcher = service.engagement_fetcher(FixedRouter(Flaky(router.target, broken)))  # type: ignore[arg-type]
                clock.advance(hours=1, minutes=1)
                return await fetcher.tick()
        finally:
            await runner.cleanup()

    assert asyncio.run(scenario()) == 1  # the second post's checkpoint, despite the first's bug
    service.close()
