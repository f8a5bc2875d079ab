"""A fan-out plan: one announcement, one post per target, under one plan id.

    Created (the posts it made, all at once)

Each post keeps its own lifecycle; the plan only remembers which posts are its own, so its
status is their sum. Post ids derive from the plan id and the target's place in it, and the
spread that keeps posts from landing in the same second is drawn from a generator seeded by
the plan id: the same request makes the same plan, whenever and however often it is sent.
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from uuid import UUID

from domain.base import Aggregate, Immutable
from domain.errors import HeraldError
from domain.instants import require_utc

PLANS = uuid.UUID("5d0e6f1a-2b3c-4d5e-8f90-a1b2c3d4e5f6")


class PlanNotFound(HeraldError):
    code = "plan_not_found"
    field = "plan_id"


class Stagger(Immutable):
    """How a plan's posts are spread: posts of one account at least `same_account_minutes`
    apart, and every post moved by up to `spread_seconds`, so nothing lands in one second."""

    same_account_minutes: float = 0
    spread_seconds: float = 0


def plan_post_id(plan_id: UUID, index: int) -> UUID:
    return uuid.uuid5(PLANS, f"{plan_id}/{index}")


def staggered(plan_id: UUID, targets: list[tuple[str, datetime]], stagger: Stagger) -> list[datetime]:
    """Each target's instant (given as (account, instant)), spread as `stagger` says, no two in
    one second when there is any spread; the same plan id always gives the same instants."""
    draw = random.Random(plan_id.int)
    spread = [
        (at + timedelta(seconds=draw.uniform(0, stagger.spread_seconds))).replace(microsecond=0) for _, at in targets
    ]
    gap = timedelta(minutes=stagger.same_account_minutes)
    last: dict[str, datetime] = {}
    taken: set[datetime] = set()
    for index in sorted(range(len(targets)), key=lambda i: (spread[i], i)):
        account = targets[index][0]
        if account in last and spread[index] < last[account] + gap:
            spread[index] = last[account] + gap
        while stagger.spread_seconds and spread[index] in taken:  # one second each
            spread[index] += timedelta(seconds=1)
        last[account] = spread[index]
        taken.add(spread[index])
    return spread


class Plan(Aggregate):
    class Created(Aggregate.Created):
        workspace: str
        name: str
        post_ids: tuple[UUID, ...]

        def apply(self, plan: Plan) -> None:
            plan.workspace = self.workspace
            plan.name = self.name
            plan.post_ids = self.post_ids
            plan.created_at = self.timestamp

    if TYPE_CHECKING:
        workspace: str
        name: str
        post_ids: tuple[UUID, ...]
        created_at: datetime

    @classmethod
    def create(cls, *, plan_id: UUID, workspace: str, name: str, post_ids: tuple[UUID, ...], now: datetime) -> Plan:
        return cls._create(
            cls.Created,
            id=plan_id,
            timestamp=require_utc(now, field="now"),
            workspace=workspace,
            name=name,
            post_ids=post_ids,
        )
