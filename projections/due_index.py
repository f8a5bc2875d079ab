"""The due-job index: which posts are due, whose leases ran out, what waits for the reconciler.

A pure fold (`changes`) turns each event into column values; `DueIndex` folds a batch in
memory and hands its writer one row per post. It lags the event store a little, so the
dispatcher re-checks the aggregate before acting. The tables and queries are in
`infrastructure/persistence/due_index.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from domain.post import SIDE_STEPS, STATE_AFTER, Post
from projections.facts import Fact, utc_text

COLUMNS = (
    "created",
    "workspace",
    "account",
    "platform",
    "external_id",
    "state",
    "attempt",
    "due_at",
    "not_before",
    "deadline",
    "lease_until",
    "waiting_for",
    "version",
    "changed_at",
)
BOOKED = ("queued", "dispatched", "ambiguous", "delivered")  # states that hold a place in a posting window
STATE = {event.__name__: state.value for event, state in STATE_AFTER.items() if state is not None}


def changes(fact: Fact) -> dict[str, Any]:
    """The columns an event sets on its post's row (the pure fold). Every change of state ends
    the attempt's lease and what the post waited for, unless the event sets them anew."""
    data = fact.data
    values: dict[str, Any] = {}
    if fact.name in STATE:
        values = {"state": STATE[fact.name], "lease_until": None, "waiting_for": None}
    match fact.name:
        case Post.Drafted.__name__:
            values |= {
                "workspace": data["workspace"],
                "account": data["account"],
                "platform": data["platform"],
                "external_id": data["external_id"],
                "attempt": 0,
            }
        case Post.Scheduled.__name__ | Post.Rescheduled.__name__:
            due = utc_text(data["due_at"])
            values |= {"due_at": due, "not_before": due, "deadline": utc_text(data["deadline"])}
        case Post.DispatchClaimed.__name__:
            values |= {"attempt": data["attempt"], "lease_until": utc_text(data["lease_until"])}
        case Post.AttemptFailed.__name__ | Post.ReleasedForRetry.__name__:
            values["not_before"] = utc_text(data["next_attempt_at"])
        case Post.ClaimAbandoned.__name__ | Post.HoldReleased.__name__ | Post.SettledNotLive.__name__:
            values["not_before"] = fact.at  # queued again at once
        case Post.Held.__name__ | Post.AttentionNeeded.__name__:
            values["waiting_for"] = data["reason"]  # a hold's reason, or why support must settle it
    return values


@dataclass(frozen=True)
class Waiting:
    post_id: str
    workspace: str
    account: str
    platform: str
    state: str
    reason: str
    since: str  # the instant of the post's latest event
    deadline: str | None


@dataclass(frozen=True)
class DuePost:
    post_id: str
    account: str
    platform: str
    workspace: str = "default"
    version: int | None = None  # the row's version, where the due query read it (a hint has none)


class DueIndexWriter(Protocol):
    def upsert(self, rows: list[tuple[str, dict[str, Any]]]) -> None:
        """Rows of posts drafted in this batch: every column."""

    def update(self, rows: list[tuple[str, dict[str, Any]]]) -> None:
        """Rows of posts drafted earlier: only the columns this batch changed."""


class DueIndex:
    """The dispatcher's only query, over one table."""

    name = "due_index"
    tables: tuple[str, ...] = ("due_index",)
    # every post event is decided on: it sets columns (and its state, from the lifecycle
    # table), or is deliberately left out (tests/unit/test_lifecycle_table.py checks this)
    handles: frozenset[type[Post.Event]] = frozenset(
        {
            Post.Drafted,
            Post.ApprovalRequested,
            Post.Rejected,
            Post.Scheduled,
            Post.Rescheduled,
            Post.Canceled,
            Post.DispatchClaimed,
            Post.ClaimAbandoned,
            Post.Delivered,
            Post.AttemptFailed,
            Post.OutcomeAmbiguous,
            Post.ReleasedForRetry,
            Post.AttentionNeeded,
            Post.SettledLive,
            Post.SettledNotLive,
            Post.Held,
            Post.HoldReleased,
            Post.PartiallyDelivered,
            Post.Failed,
        }
    )
    ignores: frozenset[type[Post.Event]] = frozenset(
        {Post.ContentEdited, Post.ContainerPrepared, Post.PartPublished, Post.Approved, *SIDE_STEPS}
    )

    def apply(self, writer: DueIndexWriter, facts: Sequence[Fact]) -> None:
        """Fold a batch in memory, then write one row per post touched."""
        rows: dict[str, dict[str, Any]] = {}
        for fact in facts:
            if fact.aggregate != Post.__name__:
                continue
            values = changes(fact)
            if fact.name == Post.Drafted.__name__:
                rows[fact.aggregate_id] = dict.fromkeys(COLUMNS) | values | {"created": fact.position}
            else:
                rows.setdefault(fact.aggregate_id, {}).update(values)
            # the post's latest event, whatever it changed
            rows[fact.aggregate_id] |= {"version": fact.version, "changed_at": fact.at}
        writer.upsert([(post_id, row) for post_id, row in rows.items() if "workspace" in row])
        writer.update([(post_id, row) for post_id, row in rows.items() if "workspace" not in row])


class DueIndexView(Protocol):
    """What the due index answers (`infrastructure/persistence/due_index.py`)."""

    def due(
        self,
        now: datetime,
        limit: int,
        exclude_accounts: Sequence[tuple[str, str]] = (),
        share: tuple[int, int] | None = None,
    ) -> list[DuePost]:
        """Queued posts due at or before `now`, oldest first, spread fairly across accounts;
        the (workspace, account) pairs named are left out (paused or at their limit). With a
        `share` (index, count) only the accounts of that dispatcher's partitions."""
        ...

    def expired_leases(self, now: datetime, limit: int) -> list[str]: ...
    def past_deadline(self, now: datetime, limit: int) -> list[DuePost]: ...
    def ambiguous(self, limit: int, after: str = "") -> list[str]:
        """Ambiguous posts the reconciler should look at (not those waiting for support), in
        post id order after `after`: a reconciler walks round them all, so posts it cannot
        settle yet (their account is gone) never hide the others."""
        ...

    def held(self, limit: int, after: str = "") -> list[DuePost]:
        """Held posts in post id order after `after` (walked round, as `ambiguous`)."""
        ...

    def needing_attention(self, workspace: str | None, limit: int) -> list[Waiting]:
        """Posts held or waiting for support, oldest first, with why."""
        ...

    def next_due(self) -> datetime | None: ...
    def counts(self) -> dict[str, int]:
        """Posts by state; ambiguous posts waiting for support count as `attention`."""
        ...

    def oldest_changes(self) -> dict[str, str]:
        """{state: the oldest last-change instant (stored UTC text)} of posts that wait: ambiguous,
        attention (ambiguous, waiting for support) and held."""
        ...

    def booked(self, workspace: str, account: str, since: datetime) -> dict[UUID, datetime]:
        """{post id: due} of the account's posts that hold a place in its posting window."""
        ...
