"""The webhook outbox: which announcements each workspace's endpoints are owed, and which
deliveries are due. Folded from the log as it goes by.

A post's final outcome (delivered, failed, canceled), an ambiguity, an account's
disconnection, a recurring rule's materialised occurrence and a plan whose posts have all
ended (`plan.completed`, with the count of each outcome) become one pending announcement
per subscribed endpoint; the sender then plans each as a `WebhookDelivery` (whose id is
derived from what it announces, so a batch folded twice after a crash still announces each
outcome once). The tables and queries are in `infrastructure/persistence/webhook_outbox.py`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from domain.account import Account
from domain.plan import Plan
from domain.post import SIDE_STEPS, Post
from domain.rule import Rule
from domain.webhook import WebhookDelivery, delivery_id
from projections.facts import Fact, utc_text

ANNOUNCED = {
    (Post.__name__, Post.Delivered.__name__): "post.delivered",
    (Post.__name__, Post.Failed.__name__): "post.failed",
    (Post.__name__, Post.Canceled.__name__): "post.canceled",
    (Post.__name__, Post.OutcomeAmbiguous.__name__): "post.ambiguous",
    (Post.__name__, Post.PartiallyDelivered.__name__): "post.partial",
    (Post.__name__, Post.Held.__name__): "post.held",
    (Post.__name__, Post.ApprovalRequested.__name__): "post.awaiting_approval",
    (Post.__name__, Post.AttentionNeeded.__name__): "post.attention",
    (Post.__name__, Post.SettledLive.__name__): "post.delivered",
    (Account.__name__, Account.Disconnected.__name__): "account.disconnected",
    (Rule.__name__, Rule.Materialised.__name__): "rule.materialised",
}
KEPT = (
    *("remote_id", "permalink", "reason", "remediation", "reconciled", "attempt", "parts", "evidence", "actor"),
    *("local_date", "due_at", "post_ids", "refused", "adjustment"),  # an occurrence made into posts
)
ENDING = {  # a plan's post has ended, and how (as GET …/plans/{id} counts them)
    Post.Delivered.__name__: "delivered",
    Post.SettledLive.__name__: "delivered",
    Post.PartiallyDelivered.__name__: "partial",
    Post.Failed.__name__: "failed",
    Post.Canceled.__name__: "canceled",
}
REPEATABLE = ("post.ambiguous", "post.held", "post.attention", "rule.materialised")  # more than once each
EndpointsOf = Callable[[str], list[tuple[str, str, tuple[str, ...]]]]  # workspace → (id, url, events)


@dataclass(frozen=True)
class Pending:
    """An announcement waiting to be planned as a delivery."""

    delivery_id: str
    workspace: str
    endpoint_id: str
    url: str
    event_type: str
    subject: str
    payload: str


class OutboxWriter(Protocol):
    def remember_subject(self, aggregate_id: str, workspace: str, name: str | None) -> None: ...
    def subject(self, aggregate_id: str) -> tuple[str, str | None] | None:
        """(workspace, name) of a post or account seen before."""
        ...

    def announce(self, pending: Pending) -> None:
        """A pending announcement (kept once per delivery id)."""
        ...

    def remember_plan(self, plan_id: str, post_ids: Sequence[str]) -> None: ...
    def plan_post_ended(self, post_id: str, state: str) -> tuple[str, dict[str, int]] | None:
        """Record how a plan's post ended; (plan id, outcome counts) when it was the plan's
        last post to end, once (None otherwise, and for a post of no plan)."""
        ...

    def planned(self, delivery: str, workspace: str, at: str) -> None: ...
    def attempted(self, delivery: str, state: str, retry_at: str | None) -> None: ...
    def resent(self, delivery: str, at: str) -> None: ...


class WebhookOutbox:
    name = "webhooks"
    tables: tuple[str, ...] = ("webhook_subjects", "webhook_plans", "webhook_pending", "webhook_outbox")
    handles: frozenset[type[Post.Event]] = frozenset(
        {
            Post.Drafted,
            Post.ApprovalRequested,
            Post.Delivered,
            Post.SettledLive,
            Post.PartiallyDelivered,
            Post.Failed,
            Post.Canceled,
            Post.OutcomeAmbiguous,
            Post.Held,
            Post.AttentionNeeded,
        }
    )
    ignores: frozenset[type[Post.Event]] = frozenset(
        {
            Post.Scheduled,
            Post.ContentEdited,
            Post.Rescheduled,
            Post.DispatchClaimed,
            Post.ClaimAbandoned,
            Post.ContainerPrepared,
            Post.PartPublished,
            Post.Approved,
            Post.Rejected,
            *SIDE_STEPS,
            Post.AttemptFailed,
            Post.ReleasedForRetry,
            Post.SettledNotLive,
            Post.HoldReleased,
        }
    )

    def __init__(self, endpoints_of: EndpointsOf) -> None:
        self.endpoints_of = endpoints_of

    def apply(self, writer: OutboxWriter, facts: Sequence[Fact]) -> None:
        for fact in facts:
            if fact.name in (Post.Drafted.__name__, Account.Connected.__name__) or (fact.aggregate, fact.name) == (
                Rule.__name__,
                Rule.Created.__name__,
            ):
                writer.remember_subject(fact.aggregate_id, fact.data["workspace"], fact.data.get("name"))
            elif fact.aggregate == WebhookDelivery.__name__:
                self._outbox(writer, fact)
            elif (fact.aggregate, fact.name) == (Plan.__name__, Plan.Created.__name__):
                writer.remember_subject(fact.aggregate_id, fact.data["workspace"], fact.data.get("name"))
                writer.remember_plan(fact.aggregate_id, [str(i) for i in fact.data["post_ids"]])
            if (fact.aggregate, fact.name) in ANNOUNCED:
                self._announce(writer, fact)
            if fact.aggregate == Post.__name__ and fact.name in ENDING:
                completed = writer.plan_post_ended(fact.aggregate_id, ENDING[fact.name])
                if completed is not None:
                    self._plan_completed(writer, fact, *completed)

    def _plan_completed(self, writer: OutboxWriter, fact: Fact, plan_id: str, states: dict[str, int]) -> None:
        found = writer.subject(plan_id)
        if not found:
            return
        workspace, name = found
        kind = "plan.completed"
        status = "delivered" if set(states) == {"delivered"} else "ended"
        payload = {
            "type": kind,
            "at": fact.at,
            "plan_id": plan_id,
            "plan": name,
            "data": {"status": status, "states": states},
        }
        for endpoint_id, url, events in self.endpoints_of(workspace):
            if kind in events:
                delivery = str(delivery_id(endpoint_id, plan_id, kind))
                writer.announce(Pending(delivery, workspace, endpoint_id, url, kind, plan_id, json.dumps(payload)))

    def _announce(self, writer: OutboxWriter, fact: Fact) -> None:
        found = writer.subject(fact.aggregate_id)
        if not found:
            return
        workspace, name = found
        kind = ANNOUNCED[(fact.aggregate, fact.name)]
        subject = f"{fact.aggregate_id}@{fact.version}" if kind in REPEATABLE else fact.aggregate_id
        payload: dict[str, Any] = {
            "type": kind,
            "at": fact.at,
            "data": {k: v for k, v in fact.data.items() if k in KEPT},
        }
        if fact.aggregate == Post.__name__:
            payload["post_id"] = fact.aggregate_id
        elif fact.aggregate == Rule.__name__:
            payload |= {"rule_id": fact.aggregate_id, "rule": name}
        else:
            payload["account"] = name
        for endpoint_id, url, events in self.endpoints_of(workspace):
            if kind in events:
                delivery = str(delivery_id(endpoint_id, subject, kind))
                writer.announce(Pending(delivery, workspace, endpoint_id, url, kind, subject, json.dumps(payload)))

    @staticmethod
    def _outbox(writer: OutboxWriter, fact: Fact) -> None:
        match fact.name:
            case WebhookDelivery.Planned.__name__:
                writer.planned(fact.aggregate_id, fact.data["workspace"], fact.at)
            case WebhookDelivery.Attempted.__name__:
                retry = utc_text(fact.data["next_attempt_at"])
                state = "delivered" if fact.data["succeeded"] else ("pending" if retry else "gave_up")
                writer.attempted(fact.aggregate_id, state, retry)
            case WebhookDelivery.Resent.__name__:
                writer.resent(fact.aggregate_id, fact.at)


class OutboxView(Protocol):
    def due(self, now: datetime, limit: int) -> list[str]:
        """Deliveries whose next attempt is due, oldest first."""
        ...

    def pending(self, limit: int) -> list[Pending]: ...
    def forget_pending(self, delivery_ids: list[str]) -> None: ...
    def planned_since(self, since: datetime, workspace: str | None) -> list[str]: ...
