"""Stats for analysts: per account, platform and UTC day of the event.

Counts per account, platform and day, failures by reason, and each delivered post's lateness
(delivered instant minus due instant), so percentiles are computed exactly at query time.
The tables and the report query are in `infrastructure/persistence/stats.py`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any, Protocol

from domain.post import SIDE_STEPS, Post
from projections.facts import Fact, seconds_between, utc_text

COUNTERS = ("scheduled", "delivered", "failed", "canceled", "reconciled", "attempts", "partial")
DELIVERED = (Post.Delivered.__name__, Post.SettledLive.__name__)
Key = tuple[str, str, str, str]  # account, platform, day, counter (or failure reason)


def counter_for(fact: Fact) -> list[str]:
    """Which counters an event bumps (the pure fold)."""
    match fact.name:
        case Post.Scheduled.__name__:
            return ["scheduled"]
        case Post.DispatchClaimed.__name__:
            return ["attempts"]
        case Post.Delivered.__name__:
            return ["delivered", "reconciled"] if fact.data["reconciled"] else ["delivered"]
        case Post.SettledLive.__name__:
            return ["delivered", "reconciled"]
        case Post.PartiallyDelivered.__name__:
            return ["partial"]
        case Post.Failed.__name__:
            return ["failed"]
        case Post.Canceled.__name__:
            return ["canceled"]
    return []


class StatsWriter(Protocol):
    def target(self, post_id: str) -> list[Any]:
        """[account, platform, due_at] of a post drafted in an earlier batch."""
        ...

    def write(
        self,
        targets: dict[str, list[Any]],
        counts: Counter[Key],
        failures: Counter[Key],
        lateness: list[list[Any]],
    ) -> None: ...


class Stats:
    name = "stats"
    tables: tuple[str, ...] = ("post_stats", "post_failures", "post_lateness", "post_targets")
    handles: frozenset[type[Post.Event]] = frozenset(
        {
            Post.Drafted,
            Post.Scheduled,
            Post.Rescheduled,
            Post.DispatchClaimed,
            Post.Delivered,
            Post.SettledLive,
            Post.PartiallyDelivered,
            Post.Failed,
            Post.Canceled,
        }
    )
    ignores: frozenset[type[Post.Event]] = frozenset(
        {
            Post.ContentEdited,
            Post.ContainerPrepared,
            Post.PartPublished,
            Post.ApprovalRequested,
            Post.Approved,
            Post.Rejected,
            *SIDE_STEPS,
            Post.ClaimAbandoned,
            Post.AttemptFailed,
            Post.OutcomeAmbiguous,
            Post.ReleasedForRetry,
            Post.AttentionNeeded,
            Post.SettledNotLive,
            Post.Held,
            Post.HoldReleased,
        }
    )

    def apply(self, writer: StatsWriter, facts: Sequence[Fact]) -> None:
        targets: dict[str, list[Any]] = {}
        new_targets: dict[str, list[Any]] = {}
        counts: Counter[Key] = Counter()
        failures: Counter[Key] = Counter()
        lateness: list[list[Any]] = []
        for fact in facts:
            if fact.aggregate != Post.__name__:
                continue
            post_id = fact.aggregate_id
            if fact.name == Post.Drafted.__name__:
                targets[post_id] = new_targets[post_id] = [fact.data["account"], fact.data["platform"], None]
                continue
            target = targets.get(post_id) or writer.target(post_id)
            targets[post_id] = target
            if fact.name in (Post.Scheduled.__name__, Post.Rescheduled.__name__):
                target[2] = utc_text(fact.data["due_at"])
                new_targets[post_id] = target
            account, platform, due_at = target
            day = fact.at[:10]
            for name in counter_for(fact):
                counts[(account, platform, day, name)] += 1
            if fact.name == Post.Failed.__name__:
                failures[(account, platform, day, fact.data["reason"])] += 1
            if fact.name in DELIVERED and due_at:
                lateness.append([post_id, account, platform, day, seconds_between(due_at, fact.at)])
        writer.write(new_targets, counts, failures, lateness)


class StatsView(Protocol):
    def report(self, day: str | None = None) -> list[dict[str, Any]]:
        """One dict per account, platform and day, with failures by reason and lateness percentiles."""
        ...


def percentile(values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile of sorted `values` (None when empty)."""
    if not values:
        return None
    rank = max(1, -(-int(fraction * 1000) * len(values) // 1000))
    return values[min(rank, len(values)) - 1]
