"""Bodies of the planning routes: recurring rules and fan-out plans."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field

from domain.content import Platform
from infrastructure.api.models import ContentIn, Strict


class TargetIn(Strict):
    account: str = Field(min_length=1, max_length=200, description="a connected account's name")
    platform: Platform


class CreateRule(Strict):
    name: str = Field(min_length=1, max_length=200)
    timezone: str = Field(max_length=64, description="IANA zone name the local time is in, e.g. Europe/Paris")
    at: time = Field(description="local time of day, HH:MM; kept across daylight-saving changes")
    starts: date = Field(description="the first local date the rule may fall on")
    rrule: str = Field(
        min_length=1,
        max_length=500,
        description="an RFC 5545 RRULE with COUNT or UNTIL, e.g. FREQ=WEEKLY;BYDAY=FR;UNTIL=20270331",
    )
    content: ContentIn
    targets: list[TargetIn] = Field(min_length=1, max_length=50)
    lead_seconds: float = Field(
        default=86400, gt=0, le=30 * 86400, description="how long before each occurrence its posts are made"
    )


class RuleOut(BaseModel):
    id: UUID
    name: str
    timezone: str
    at: time
    starts: date
    rrule: str
    lead_seconds: float
    targets: list[TargetIn]
    version: int = Field(description="the plan's version: each edit makes a new one")
    paused: bool
    materialised: int = Field(description="occurrences already made into posts")
    next_due: datetime | None = Field(description="the next occurrence not yet materialised (UTC)")


class RuleList(BaseModel):
    items: list[RuleOut]


class EditRule(Strict):
    """Only what changes; the rest stays as it is."""

    timezone: str | None = Field(default=None, max_length=64, description="IANA zone name")
    at: time | None = Field(default=None, description="local time of day, HH:MM")
    starts: date | None = None
    rrule: str | None = Field(default=None, min_length=1, max_length=500, description="an RFC 5545 RRULE")
    content: ContentIn | None = None
    targets: list[TargetIn] | None = Field(default=None, min_length=1, max_length=50)
    lead_seconds: float | None = Field(default=None, gt=0, le=30 * 86400)
    apply_to: Literal["unmaterialised", "future_materialised"] = Field(
        default="unmaterialised",
        description="unmaterialised: only occurrences not yet made into posts follow the edit; "
        "future_materialised: posts already made and not yet sent follow it too (edited, moved, or "
        "canceled if their target or date left the rule)",
    )


class AppliedOut(BaseModel):
    changed: list[UUID] = Field(description="posts already made that now follow the new version")
    canceled: list[UUID] = Field(description="posts whose target or date the rule no longer has")
    kept: list[str] = Field(description="posts left as they were, and why (sent, inside their freeze window)")


class EditedRuleOut(RuleOut):
    applied: AppliedOut | None = Field(description="with apply_to=future_materialised: what became of the posts")


class RuleAction(Strict):
    """An empty object: pausing or resuming takes nothing more."""


class PlanTargetIn(Strict):
    account: str = Field(min_length=1, max_length=200, description="a connected account's name")
    platform: Platform
    content: ContentIn | None = Field(default=None, description="this target's own content; else the plan's")


class StaggerIn(Strict):
    same_account_minutes: float = Field(default=0, ge=0, le=1440, description="posts of one account this far apart")
    spread_seconds: float = Field(default=0, ge=0, le=3600, description="each post moved by up to this much")


class CreatePlan(Strict):
    plan_id: UUID | None = Field(
        default=None, description="your id for the plan: sending it again answers the same plan (200)"
    )
    name: str = Field(default="plan", min_length=1, max_length=200)
    content: ContentIn
    targets: list[PlanTargetIn] = Field(min_length=1, max_length=200)
    scheduled_at: str | None = Field(
        default=None, max_length=64, description="ISO 8601, or a local time with `timezone`; default: now"
    )
    timezone: str | None = Field(default=None, max_length=64, description="IANA zone name, e.g. Europe/Paris")
    stagger: StaggerIn = Field(default_factory=StaggerIn)


class PlanPostOut(BaseModel):
    id: UUID
    account: str
    platform: str
    state: str
    due_at: datetime | None


class PlanOut(BaseModel):
    id: UUID
    name: str
    status: str = Field(description="in_progress; delivered (every post); ended (every post ended, not all delivered)")
    states: dict[str, int]
    posts: list[PlanPostOut]


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class SlotIn(Strict):
    weekday: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    at: time = Field(description="local time of day in the queue's timezone, HH:MM")


class SetQueue(Strict):
    timezone: str = Field(max_length=64, description="IANA zone name the slots are in, e.g. Europe/Paris")
    slots: list[SlotIn] = Field(min_length=1, max_length=200)
    min_gap_minutes: float = Field(default=0, ge=0, le=1440, description="the least time between the account's posts")
    daily_cap: int | None = Field(default=None, ge=1, le=100, description="at most this many posts a local day")


class QueuedPostOut(BaseModel):
    post_id: UUID
    category: str | None
    scheduled_at: datetime | None


class QueueOut(BaseModel):
    account: str
    timezone: str
    slots: list[SlotIn]
    min_gap_minutes: float
    daily_cap: int | None
    next_free: list[datetime] = Field(description="the next five free slots (UTC)")
    waiting: list[QueuedPostOut] = Field(
        default=[], description="the queue's posts not yet due (outside their freeze window), in the queue's order"
    )


class ReorderQueue(Strict):
    order: list[UUID] = Field(
        max_length=10_000, description="every post waiting in the queue, once each, in the order wanted"
    )


class ShuffleQueue(Strict):
    seed: int | None = Field(
        default=None, ge=0, le=2**31 - 1, description="the same seed gives the same order; drawn if absent"
    )
