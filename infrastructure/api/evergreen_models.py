"""Bodies of the evergreen routes: pools of posts recycled into free queue slots."""

from __future__ import annotations

from uuid import UUID

from pydantic import BaseModel, Field

from infrastructure.api.models import ContentIn, Strict
from infrastructure.api.plan_models import TargetIn


class ItemIn(Strict):
    key: str = Field(min_length=1, max_length=100, description="what makes it the same item: stable within the pool")
    variants: list[ContentIn] = Field(
        min_length=1,
        max_length=20,
        description="each reuse takes the next variant; a pool feeding X needs two or more, each its own text",
    )


class CreatePool(Strict):
    name: str = Field(min_length=1, max_length=200)
    targets: list[TargetIn] = Field(min_length=1, max_length=50, description="accounts with a queue")
    items: list[ItemIn] = Field(min_length=1, max_length=500)
    min_interval_days: float = Field(
        default=21, ge=1 / 24, le=365, description="the least time before an item comes back on an account"
    )
    category: str = Field(default="evergreen", min_length=1, max_length=100, description="the posts' queue category")


class ItemOut(BaseModel):
    key: str
    variants: int = Field(description="how many variants it has")


class PoolOut(BaseModel):
    id: UUID
    name: str
    targets: list[TargetIn]
    items: list[ItemOut]
    min_interval_days: float
    category: str
    paused: bool
    recycled: int = Field(description="reuses made into posts so far")


class PoolList(BaseModel):
    items: list[PoolOut]


class PoolAction(Strict):
    """An empty object: pausing or resuming takes nothing more."""
