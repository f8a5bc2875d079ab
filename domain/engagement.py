"""Engagement: what a platform counts for a delivered post (likes, reposts, replies), taken
at fixed checkpoints after delivery: +1 h, +24 h and +7 d.

One `Engagement` aggregate per delivered post (its id derived from the post's), so two
fetchers never make two; each checkpoint is measured once, as an event. A checkpoint whose
time passed while nothing fetched is recorded as missed rather than measured late, since a
count taken at +24 h is not the +1 h count. `best_windows` is the analysts' heatmap: the
mean interactions of recent posts by the local weekday and hour they went out.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta, tzinfo
from typing import TYPE_CHECKING
from uuid import UUID

from pydantic import Field

from domain.base import Aggregate, Immutable
from domain.errors import InvalidTransition

CHECKPOINTS: dict[str, timedelta] = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7)}
LATE = timedelta(hours=1)  # a checkpoint fetched this long after its time is missed, not measured
NAMESPACE = UUID("6f1d7a52-2f43-4c55-9b1e-6a8f0d1c9e21")


class Counts(Immutable):
    likes: int = Field(ge=0)
    reposts: int = Field(ge=0)
    replies: int = Field(ge=0)

    @property
    def interactions(self) -> int:
        return self.likes + self.reposts + self.replies


def engagement_id(post_id: UUID) -> UUID:
    return uuid.uuid5(NAMESPACE, str(post_id))


def due_checkpoints(delivered_at: datetime, done: Iterable[str], now: datetime) -> list[str]:
    """The checkpoints whose time has come and that are not recorded yet, in order."""
    seen = set(done)
    return [name for name, after in CHECKPOINTS.items() if name not in seen and delivered_at + after <= now]


def missed(delivered_at: datetime, checkpoint: str, now: datetime) -> bool:
    """Whether it is too late to take this checkpoint's count as its own."""
    return now > delivered_at + CHECKPOINTS[checkpoint] + LATE


class Engagement(Aggregate):
    class Started(Aggregate.Created):
        post_id: UUID
        workspace: str
        account: str
        platform: str
        remote_id: str
        delivered_at: datetime

        def apply(self, engagement: Engagement) -> None:
            engagement.post_id = self.post_id
            engagement.workspace = self.workspace
            engagement.account = self.account
            engagement.platform = self.platform
            engagement.remote_id = self.remote_id
            engagement.delivered_at = self.delivered_at
            engagement.measured = {}

    class Measured(Aggregate.Event):
        """One checkpoint: the counts, or why there are none (missed, not offered, refused)."""

        post_id: UUID
        checkpoint: str
        counts: Counts | None
        unavailable: str | None

        def apply(self, engagement: Engagement) -> None:
            engagement.measured = {**engagement.measured, self.checkpoint: self.counts}

    if TYPE_CHECKING:
        post_id: UUID
        workspace: str
        account: str
        platform: str
        remote_id: str
        delivered_at: datetime
        measured: dict[str, Counts | None]

    @classmethod
    def start(
        cls,
        *,
        post_id: UUID,
        workspace: str,
        account: str,
        platform: str,
        remote_id: str,
        delivered_at: datetime,
        now: datetime,
    ) -> Engagement:
        return cls._create(
            cls.Started,
            id=engagement_id(post_id),
            timestamp=now,
            post_id=post_id,
            workspace=workspace,
            account=account,
            platform=platform,
            remote_id=remote_id,
            delivered_at=delivered_at,
        )

    def measure(self, checkpoint: str, counts: Counts | None, *, unavailable: str | None, now: datetime) -> None:
        if checkpoint not in CHECKPOINTS:
            raise InvalidTransition(f"{checkpoint!r} is not a checkpoint; they are {', '.join(CHECKPOINTS)}")
        if checkpoint in self.measured:
            raise InvalidTransition(f"the {checkpoint} checkpoint is recorded already")
        if now < self.delivered_at + CHECKPOINTS[checkpoint]:
            raise InvalidTransition(f"the {checkpoint} checkpoint is not due yet")
        if (counts is None) == (unavailable is None):
            raise InvalidTransition("a checkpoint has counts, or says why it has none")
        self.trigger_event(
            self.Measured,
            timestamp=now,
            post_id=self.post_id,
            checkpoint=checkpoint,
            counts=counts,
            unavailable=unavailable,
        )


def best_windows(samples: Iterable[tuple[datetime, int]], zone: tzinfo) -> list[list[float | None]]:
    """7 x 24 mean interactions by local weekday (Monday first) and hour the post went out;
    None where no post went out."""
    sums = [[0] * 24 for _ in range(7)]
    counts = [[0] * 24 for _ in range(7)]
    for delivered_at, interactions in samples:
        local = delivered_at.astimezone(zone)
        sums[local.weekday()][local.hour] += interactions
        counts[local.weekday()][local.hour] += 1
    return [
        [sums[day][hour] / counts[day][hour] if counts[day][hour] else None for hour in range(24)] for day in range(7)
    ]
