"""A realistic history for projection tests: posts scheduled, edited, canceled and dispatched
through the faulty simulator on an injected clock, with the live projections following along."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

import aiohttp

from domain.content import Content
from domain.decisions import RetryPolicy
from infrastructure.bootstrap import Herald, bootstrap
from infrastructure.persistence.connections import ReadStore
from infrastructure.platforms.simulator import Simulator, start
from projections.catalog import PROJECTIONS
from services.dispatcher import DispatchSettings
from services.results import PostSettings
from tests.clock import ManualClock

SETTINGS = PostSettings(
    grace=timedelta(minutes=10),
    freeze=timedelta(seconds=0),
    lease=timedelta(seconds=60),
    retry_policy=RetryPolicy(base_seconds=5, cap_seconds=30, max_attempts=4, jitter=0.3),
)
FAULTS = {"accept_drop": 0.15, "http_500": 0.15, "http_429": 0.1, "http_401": 0.03, "http_403": 0.03}


@dataclass
class History:
    service: Herald
    store: ReadStore
    clock: ManualClock
    post_ids: list[UUID]
    midpoint: datetime  # an instant halfway through, for as-of checks


def make_history(store_url: str, posts: int = 40, live_batch: int = 7) -> History:
    clock = ManualClock()
    service = bootstrap(store_url, clock=clock, settings=SETTINGS)
    store = service.read_store
    live = [service.runner(cls(), batch_size=live_batch) for cls in PROJECTIONS.values()]

    async def run() -> History:
        simulator = Simulator(faults=dict(FAULTS), seed=3)
        runner, port = await start(simulator)
        ids = []
        for n in range(posts):
            ids.append(
                service.posts.schedule(
                    account=f"acct-{n % 4}",
                    platform=["x", "mastodon", "bluesky", "linkedin"][n % 4],
                    content=Content(text=f"post {n}"),
                    scheduled_at=clock.now + timedelta(seconds=5 * (n % 10) + 1),
                    external_id=f"ext-{n}",
                )
            )
        for post_id in ids[::7]:
            service.posts.edit_content(post_id, Content(text="edited"))
        service.posts.cancel(ids[3])
        midpoint = clock.now
        async with aiohttp.ClientSession() as session:
            platforms = service.simulator_router(f"http://127.0.0.1:{port}", session, timeout=2)
            dispatcher = service.dispatcher(platforms, DispatchSettings(worker="w", batch_size=8))
            for round_no in range(40):
                await dispatcher.tick()
                for runner_ in live:
                    runner_.run_once()  # small batches, interleaved with the writes
                clock.advance(seconds=5)
                if round_no == 3:
                    midpoint = clock.now
        for runner_ in live:
            runner_.catch_up()
        await runner.cleanup()
        return History(service, store, clock, ids, midpoint)

    return asyncio.run(run())


def table_rows(store: ReadStore, table: str) -> list[tuple[object, ...]]:
    with store.transaction() as cursor:
        cursor.execute(f"SELECT * FROM {table} ORDER BY 1, 2, 3")
        return [tuple(found) for found in cursor.fetchall()]
