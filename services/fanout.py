"""Fan-out plans: one request, one post per target, under one plan id.

The posts and the plan are saved in one transaction, so a plan is all there or not at all.
The same plan id (a client's retry, a replayed request) answers the plan it already made:
post ids and their spread derive from the plan id, so nothing is made twice.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from pydantic import BaseModel

from domain.content import Content, Platform
from domain.errors import HeraldError
from domain.plan import Plan, PlanNotFound, Stagger, plan_post_id, staggered
from services.ports import Clock, EventLog
from services.posts import PostCommands

ENDED = {"delivered", "partial", "failed", "canceled"}


class PlanIdTaken(HeraldError):
    code = "plan_id_taken"
    field = "plan_id"


class PlanTarget(BaseModel):
    account: str
    platform: Platform
    content: Content | None = None  # this target's own content, else the plan's


class PlanPost(BaseModel):
    id: UUID
    account: str
    platform: str
    state: str
    due_at: datetime | None


class PlanView(BaseModel):
    id: UUID
    name: str
    status: str  # in_progress, delivered (every post), or ended (every post ended, some not delivered)
    states: dict[str, int]
    posts: list[PlanPost]


class FanOut:
    def __init__(self, events: EventLog, *, posts: PostCommands, clock: Clock) -> None:
        self.events = events
        self.posts = posts
        self.clock = clock

    def create(
        self,
        workspace: str,
        *,
        plan_id: UUID,
        name: str,
        content: Content,
        targets: list[PlanTarget],
        scheduled_at: datetime | None,
        stagger: Stagger,
    ) -> tuple[PlanView, bool]:
        """(the plan, whether it was made now): one queued post per target, spread as
        `stagger` says, all saved at once; the plan that `plan_id` made already, if any."""
        if (existing := self._find(plan_id)) is not None:
            if existing.workspace != workspace:
                raise PlanIdTaken(f"plan id {plan_id} is taken; choose another")
            return self._view(existing), False
        now = self.clock()
        at = scheduled_at or now
        instants = staggered(plan_id, [(t.account, at) for t in targets], stagger)
        post_ids = tuple(plan_post_id(plan_id, index) for index in range(len(targets)))
        for target in targets:  # every target's content, checked before anything is saved
            self.posts.check_content(target.platform, target.content or content, workspace, target.account)
        requests: list[dict[str, Any]] = [
            {
                "account": target.account,
                "platform": target.platform,
                "content": target.content or content,
                "scheduled_at": None if scheduled_at is None and when <= now else when,
                "workspace": workspace,
                "post_id": post_id,
                "external_id": f"plan:{plan_id}",
            }
            for target, when, post_id in zip(targets, instants, post_ids, strict=True)
        ]
        plan = Plan.create(plan_id=plan_id, workspace=workspace, name=name, post_ids=post_ids, now=now)
        try:
            self.posts.schedule_many(requests, also=[plan])
        except IntegrityError:  # the same plan, made by a concurrent request a moment ago
            return self.get(workspace, plan_id), False
        return self._view(plan), True

    def get(self, workspace: str, plan_id: UUID) -> PlanView:
        plan = self._find(plan_id)
        if plan is None or plan.workspace != workspace:
            raise PlanNotFound(f"no plan {plan_id} in this workspace")
        return self._view(plan)

    def _view(self, plan: Plan) -> PlanView:
        found = self.events.get_many(list(plan.post_ids))
        posts = [
            PlanPost(id=p.id, account=p.account, platform=p.platform.value, state=p.state.value, due_at=p.due_at)
            for p in (found[i] for i in plan.post_ids if i in found)
        ]
        states = Counter(p.state for p in posts)
        if states and set(states) == {"delivered"}:
            status = "delivered"
        elif states and set(states) <= ENDED:
            status = "ended"
        else:
            status = "in_progress"
        return PlanView(id=plan.id, name=plan.name, status=status, states=dict(states), posts=posts)

    def _find(self, plan_id: UUID) -> Plan | None:
        try:
            plan = self.events.get(plan_id)
        except AggregateNotFoundError:
            return None
        if not isinstance(plan, Plan):
            raise PlanIdTaken(f"plan id {plan_id} is taken; choose another")
        return plan
