"""Evergreen pools: create, list, read, pause, resume, delete; and fill free queue slots.

`fill(now)` gives each pool's accounts the free slots of their queues that fall within the
pool's lead time: each slot takes the item `Pool.choose` names, as a new queued post (its own
id and publish key), saved in one transaction with the pool's `Recycled` event and the
queue's `Enqueued`. Two planners at once: one of them loses the race on the pool's version
and its post is not saved. An item a platform refuses is logged and skipped for this round.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError
from pydantic import BaseModel

from domain.content import Content
from domain.errors import HeraldError
from domain.evergreen import EvergreenItem, Pool, PoolNotFound, reuse_post_id
from domain.queue import NoFreeSlot, QueueNotFound
from domain.rule import Target
from services.ports import Clock, EventLog
from services.posts import PostCommands
from services.queues import QueueService

LEAD = timedelta(hours=24)
PER_ROUND = 50  # at most this many posts per account per round: a bound, not a quota
log = logging.getLogger("herald.evergreen")


class PoolView(BaseModel):
    id: UUID
    name: str
    targets: list[Target]
    items: list[EvergreenItem]
    min_interval_seconds: float
    category: str
    paused: bool
    recycled: int

    @classmethod
    def of(cls, pool: Pool) -> PoolView:
        return cls(
            id=pool.id,
            name=pool.name,
            targets=list(pool.targets),
            items=list(pool.items),
            min_interval_seconds=pool.min_interval.total_seconds(),
            category=pool.category,
            paused=pool.paused,
            recycled=sum(use for items in pool.uses.values() for _, _, use in items.values()),
        )


class Recycling(BaseModel):
    pool_id: UUID
    account: str
    item: str
    variant: int
    post_id: UUID


class EvergreenService:
    def __init__(self, events: EventLog, *, posts: PostCommands, queues: QueueService, clock: Clock) -> None:
        self.events = events
        self.posts = posts
        self.queues = queues
        self.clock = clock

    def create(
        self,
        workspace: str,
        *,
        name: str,
        targets: list[Target],
        items: list[EvergreenItem],
        min_interval: timedelta,
        category: str = "evergreen",
        pool_id: UUID | None = None,
    ) -> PoolView:
        """A pool feeding `targets`' queues; each variant is checked against each target's
        platform first, as a scheduled post would be, and each target needs a queue."""
        for target in targets:
            self.queues.get(workspace, target.account)  # QueueNotFound: a pool fills queue slots
        for index, item in enumerate(items):
            for number, variant in enumerate(item.variants):
                for target in targets:
                    try:
                        self.posts.check_content(target.platform, variant, workspace, target.account)
                    except HeraldError as refusal:
                        inner = (refusal.field or "content.text").removeprefix("content")
                        refusal.field = f"items[{index}].variants[{number}]{inner}"
                        raise
        pool = Pool.create(
            pool_id=pool_id or uuid4(),
            workspace=workspace,
            name=name,
            targets=tuple(targets),
            items=tuple(items),
            min_interval=min_interval,
            category=category,
            now=self.clock(),
        )
        self.events.save(pool)
        return PoolView.of(pool)

    def get(self, workspace: str, pool_id: UUID) -> PoolView:
        return PoolView.of(self._get(workspace, pool_id))

    def all(self, workspace: str) -> list[PoolView]:
        return [PoolView.of(pool) for pool in self._pools() if pool.workspace == workspace]

    def pause(self, workspace: str, pool_id: UUID) -> PoolView:
        return self._change(workspace, pool_id, lambda pool: pool.pause(now=self.clock()))

    def resume(self, workspace: str, pool_id: UUID) -> PoolView:
        return self._change(workspace, pool_id, lambda pool: pool.resume(now=self.clock()))

    def delete(self, workspace: str, pool_id: UUID) -> PoolView:
        return self._change(workspace, pool_id, lambda pool: pool.delete(now=self.clock()))

    def fill(self, now: datetime | None = None, lead: timedelta = LEAD) -> list[Recycling]:
        """Recycle items into every free slot within `lead` of `now` on each pool's accounts."""
        now = now or self.clock()
        made: list[Recycling] = []
        for pool in self._pools():
            for target in pool.targets:
                recycled, whole = self._fill_account(pool, target, until=now + lead)
                made += recycled
                if not whole:  # its last event was not saved: go on from the stored pool
                    pool = self._get(pool.workspace, pool.id)
        return made

    def _fill_account(self, pool: Pool, target: Target, *, until: datetime) -> tuple[list[Recycling], bool]:
        """(the posts recycled into the account's free slots, whether `pool` is as stored)."""
        made: list[Recycling] = []
        for _ in range(PER_ROUND):
            chosen: list[Recycling] = []
            try:
                post_id = self.queues.add_before(
                    pool.workspace,
                    target.account,
                    target.platform,
                    partial(self._recycle, pool, target.account, chosen),
                    until=until,
                    category=pool.category,
                    external_id=f"evergreen:{pool.id}",
                )
            except (NoFreeSlot, QueueNotFound):
                break
            except HeraldError as refusal:  # refused content, a lost race: this account, this round
                log.warning("pool %s could not fill %s's queue: %s", pool.id, target.account, refusal)
                return made, not chosen
            if post_id is None:
                break
            made += chosen
        return made, True

    def _recycle(
        self, pool: Pool, account: str, chosen: list[Recycling], slot: datetime
    ) -> tuple[Content, UUID, Sequence[Any]] | None:
        """What goes in `account`'s free slot at `slot`: the pool's choice, recorded on the pool
        (saved with the post), or None when no item may go yet."""
        choice = pool.choose(account, slot)
        if choice is None:
            return None
        post_id = reuse_post_id(pool.id, account, choice.item.key, choice.use)
        pool.recycle(account, choice, post_id=post_id, slot=slot, now=self.clock())
        chosen.append(
            Recycling(pool_id=pool.id, account=account, item=choice.item.key, variant=choice.variant, post_id=post_id)
        )
        return choice.item.variants[choice.variant], post_id, [pool]

    def _change(self, workspace: str, pool_id: UUID, change: Any) -> PoolView:
        pool = self._get(workspace, pool_id)
        change(pool)
        self.events.save(pool)
        return PoolView.of(pool)

    def _get(self, workspace: str, pool_id: UUID) -> Pool:
        try:
            pool = self.events.get(pool_id)
        except AggregateNotFoundError:
            pool = None
        if not isinstance(pool, Pool) or pool.workspace != workspace or pool.deleted:
            raise PoolNotFound(f"no evergreen pool {pool_id} in this workspace")
        return pool

    def _pools(self) -> list[Pool]:
        found = self.events.get_many(sorted(self.events.ids_created_by(Pool.Created)))
        return [pool for pool in found.values() if isinstance(pool, Pool) and not pool.deleted]
