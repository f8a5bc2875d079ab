"""Engagement, as analysts and the fetcher read it: one row per post, with its target, when it
was delivered, and each checkpoint's counts as `Engagement.Measured` recorded them.

The fetcher (`services/engagement.py`) asks it which delivered posts have a checkpoint due;
the best-windows heatmap reads the counts of an account's latest posts. The tables and
queries are in `infrastructure/persistence/engagement.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from domain.engagement import Engagement
from domain.post import LIFECYCLE, Post
from projections.facts import Fact, utc_text

DELIVERED = (Post.Delivered.__name__, Post.SettledLive.__name__)


@dataclass(frozen=True)
class Tracked:
    """A delivered post, as the fetcher needs it."""

    post_id: str
    workspace: str
    account: str
    platform: str
    remote_id: str
    delivered_at: datetime
    done: frozenset[str]


class EngagementWriter(Protocol):
    def save(self, drafted: list[list[Any]], delivered: list[list[Any]], measured: list[list[Any]]) -> None:
        """New rows [post_id, workspace, account, platform]; deliveries [delivered_at,
        remote_id, post_id]; measurements [checkpoint, counts JSON or None, post_id], in that order."""
        ...


class EngagementProjection:
    name = "engagement"
    tables: tuple[str, ...] = ("engagement",)
    handles: frozenset[type[Post.Event]] = frozenset({Post.Drafted, Post.Delivered, Post.SettledLive})
    ignores: frozenset[type[Post.Event]] = frozenset()  # filled below: every other post event

    def apply(self, writer: EngagementWriter, facts: Sequence[Fact]) -> None:
        drafted: list[list[Any]] = []
        delivered: list[list[Any]] = []
        measured: list[list[Any]] = []
        for fact in facts:
            data = fact.data
            if fact.aggregate == Post.__name__ and fact.name == Post.Drafted.__name__:
                drafted.append([fact.aggregate_id, data["workspace"], data["account"], data["platform"]])
            elif fact.aggregate == Post.__name__ and fact.name in DELIVERED:
                delivered.append([utc_text(fact.at), data["remote_id"], fact.aggregate_id])
            elif fact.aggregate == Engagement.__name__ and fact.name == Engagement.Measured.__name__:
                counts = data["counts"]
                shown = None if counts is None else f"{counts['likes']},{counts['reposts']},{counts['replies']}"
                measured.append([data["checkpoint"], shown or "-", str(data["post_id"])])
        writer.save(drafted, delivered, measured)


EngagementProjection.ignores = frozenset(LIFECYCLE) - EngagementProjection.handles


class EngagementView(Protocol):
    def due(self, now: datetime, limit: int) -> list[Tracked]:
        """Posts delivered in the last eight days with a checkpoint due and not recorded."""
        ...

    def samples(self, workspace: str | None, account: str | None, limit: int) -> list[tuple[datetime, int]]:
        """(delivered at, interactions at the latest checkpoint measured) of the latest posts
        (of a workspace and an account, when given) that have counts."""
        ...
