"""Fetch what the platforms count for delivered posts, at +1 h, +24 h and +7 d.

Each tick asks the engagement projection which delivered posts have a checkpoint due, asks
each post's platform for its counts once, and records every due checkpoint as an
`Engagement.Measured` event: the counts, or why there are none (missed because nothing
fetched in time, the post is gone, the platform's counts are not read). A platform that does
not answer is asked again next tick. Any number of fetchers may run: a post's engagement has
one aggregate, and a checkpoint recorded twice is refused.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from domain.engagement import Counts, Engagement, due_checkpoints, engagement_id, missed
from domain.errors import HeraldError
from projections.engagement import EngagementView, Tracked
from projections.runner import ProjectionRunner
from services.ports import Clock, EventLog
from services.routing import CountsNotOffered, Held, Router, route_of

log = logging.getLogger("herald.engagement")
BATCH = 100


class EngagementFetcher:
    def __init__(
        self, events: EventLog, view: EngagementView, runner: ProjectionRunner, router: Router, clock: Clock
    ) -> None:
        self.events = events
        self.view = view
        self.runner = runner
        self.router = router
        self.clock = clock

    async def tick(self) -> int:
        """One round; returns the checkpoints recorded."""
        await asyncio.to_thread(self.runner.catch_up)
        now = self.clock()
        recorded = 0
        for post in await asyncio.to_thread(self.view.due, now, BATCH):
            checkpoints = due_checkpoints(post.delivered_at, post.done, now)
            timely = [name for name in checkpoints if not missed(post.delivered_at, name, now)]
            counts, why = None, None
            if timely:
                try:
                    counts, why = await self._ask(post)
                except LookupError as problem:  # no answer now: ask again next tick
                    log.info("counts not read: %s", problem, extra=_fields(post))
                    continue
                except Exception:  # an adapter's bug stays with this post: the others go on
                    log.exception("reading the counts broke", extra=_fields(post))
                    continue
                if counts is None and why is None:
                    continue  # its account is held: ask again once it is mended
            try:
                recorded += await asyncio.to_thread(self._record, post, checkpoints, timely, counts, why, now)
            except HeraldError as refused:  # e.g. measured meanwhile by another fetcher
                log.info("engagement not recorded: %s", refused, extra=_fields(post))
        return recorded

    async def _ask(self, post: Tracked) -> tuple[Counts | None, str | None]:
        route = await route_of(self.router, post.workspace, post.account, post.platform)
        if isinstance(route, Held):
            return None, None
        ask = getattr(route, "counts", None)
        if ask is None:
            return None, f"Herald does not read {post.platform}'s counts yet"
        try:
            counts = await ask(post.remote_id)
        except CountsNotOffered as no:
            return None, str(no)
        return (counts, None) if counts is not None else (None, "the post is no longer on the platform")

    def _record(
        self,
        post: Tracked,
        checkpoints: list[str],
        timely: list[str],
        counts: Counts | None,
        why: str | None,
        now: datetime,
    ) -> int:
        key = engagement_id(UUID(post.post_id))
        found = self.events.get_many([key]).get(key)
        engagement = found if isinstance(found, Engagement) else None
        if engagement is None:
            engagement = Engagement.start(
                post_id=UUID(post.post_id),
                workspace=post.workspace,
                account=post.account,
                platform=post.platform,
                remote_id=post.remote_id,
                delivered_at=post.delivered_at,
                now=now,
            )
        for name in checkpoints:
            if name in engagement.measured:
                continue  # another fetcher recorded it meanwhile
            if name in timely:
                engagement.measure(name, counts, unavailable=why, now=now)
            else:
                engagement.measure(
                    name, None, unavailable=f"missed: nothing fetched within an hour of +{name}", now=now
                )
        pending = engagement.collect_events()
        try:
            self.events.save(*pending)
        except IntegrityError as conflict:  # a second fetcher saved first: its record stands
            log.info("engagement recorded by another fetcher: %s", conflict, extra=_fields(post))
            return 0
        return len([e for e in pending if isinstance(e, Engagement.Measured)])


def _fields(post: Tracked) -> dict[str, str | int]:
    return {"post_id": post.post_id, "workspace": post.workspace, "account": post.account, "attempt": 0}
