"""Only sends fill an account's posting window (both stores, the simulator over HTTP).

A dispatcher that reads a due index another one folds sees it lag: posts already delivered
are still listed, and their claims are refused. Found in the partitions test: those refusals
took slots of X's window (200 in 15 minutes) at each quick tick, until the accounts were
paced out and their queued posts sat for a quarter of an hour, with nothing logged.

A row older than an outcome the dispatcher recorded itself is not claimed at all: in a
burst with two dispatchers, the one reading the other's due index had 17% of its claims
refused that way before."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from projections.due_index import DueIndexView, DuePost
from services.pacing import Pacer
from tests.integration.test_dispatch_outcomes import due_post, run


class Lagging:
    """A due index that still lists `stale` as queued, as one folded elsewhere does for a while."""

    def __init__(self, index: DueIndexView, stale: list[DuePost]) -> None:
        self.index = index
        self.stale = stale

    def due(self, now: datetime, limit: int, exclude: Any = (), share: Any = None) -> list[DuePost]:
        blocked = set(exclude)
        return [post for post in self.stale if (post.workspace, post.account) not in blocked] + self.index.due(
            now, limit, exclude, share=share
        )

    def __getattr__(self, name: str) -> Any:
        return getattr(self.index, name)


def refused() -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value("herald_claims_refused_total", {"code": "post_terminal"}) or 0.0


def test_refused_claims_leave_the_accounts_window_to_the_posts_that_are_sent(store_url: str) -> None:
    async def scenario(service: Any, dispatcher: Any, simulator: Any, clock: Any) -> None:
        dispatcher.pacer = Pacer({"mastodon": (3, timedelta(minutes=15))})  # X's 200, made small
        sent = [due_post(service, clock) for _ in range(2)]
        await dispatcher.tick()
        assert [service.posts.get_post(post).state for post in sent] == ["delivered"] * 2
        stale = [DuePost(str(post), "acme", "mastodon", "default") for post in sent]
        dispatcher.due_index = Lagging(dispatcher.due_index, stale)
        before = refused()
        for _ in range(5):
            dispatcher.refused.clear()  # as if each refusal's rest were over: they are claimed again
            await dispatcher.tick()  # and refused again: already delivered
        assert refused() >= before + 5, "refused claims are not counted for operators"  # one a tick at least
        fresh: UUID = due_post(service, clock)
        for _ in range(3):  # a tick may still try a stale one first; the window must not stay full
            await dispatcher.tick()
        assert service.posts.get_post(fresh).state == "delivered", "a refused claim used the account's window"
        assert len([p for p in simulator.posts if not p["seeded"]]) == 3  # each once

    run(store_url, scenario)


def test_rows_older_than_an_outcome_recorded_here_are_not_claimed_again(store_url: str) -> None:
    async def scenario(service: Any, dispatcher: Any, simulator: Any, clock: Any) -> None:
        sent = [due_post(service, clock) for _ in range(3)]
        await asyncio.to_thread(dispatcher.runner.catch_up)
        stale = dispatcher.due_index.due(clock(), 10)  # their rows as a lagging index still has them
        assert sorted(post.post_id for post in stale) == sorted(map(str, sent))
        await dispatcher.tick()
        assert [service.posts.get_post(post).state for post in sent] == ["delivered"] * 3
        dispatcher.due_index = Lagging(dispatcher.due_index, stale)
        asked: list[UUID] = []
        claim_many = dispatcher.dispatch.claim_many

        def counted(post_ids: list[UUID], **kwargs: Any) -> Any:
            asked.extend(post_ids)
            return claim_many(post_ids, **kwargs)

        dispatcher.dispatch.claim_many = counted
        fresh = due_post(service, clock)
        await dispatcher.tick()
        assert service.posts.get_post(fresh).state == "delivered"
        assert asked == [fresh], "a row older than a recorded outcome was claimed"
        assert len([p for p in simulator.posts if not p["seeded"]]) == 4  # each once

    run(store_url, scenario)
