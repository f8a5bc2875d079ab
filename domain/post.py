"""A post's whole life, told by its events.

    Drafted ─► Scheduled (queued) ─claim─► DispatchClaimed (dispatched) ─► Delivered
                  ▲  │                          ├─ AttemptFailed (retryable) ─► queued again
    ContentEdited │  │ Canceled                 ├─ Failed (terminal)
    Rescheduled   │  ▼                          └─ OutcomeAmbiguous ─► reconciler:
    (before claim)   canceled                       found ─► Delivered (reconciled)
                                                    not found, deadline ahead ─► ReleasedForRetry
                                                    not found, deadline passed ─► Failed

The state exists only as these events. Every command checks its guard first and raises a named
error before any event is triggered; the `apply` bodies re-run on replay, so they only assign.
Commands take `now` from the caller: the domain never reads a clock.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING
from uuid import UUID

from domain.base import Aggregate
from domain.content import Content, Platform
from domain.decisions import Deliver, Fail, Release, Retry, RetryPolicy, decide, reconcile, refusal_at_claim
from domain.errors import (
    AlreadyClaimed,
    DueTimeInPast,
    InvalidTransition,
    NoOpenClaim,
    NotDue,
    PostFrozen,
    PostIsTerminal,
)
from domain.instants import require_utc
from domain.intent import PublishIntent
from domain.outcomes import Observed, RemotePost
from domain.publish_key import publish_key

if TYPE_CHECKING:
    from collections.abc import Sequence

    from domain.validation import Problem


class PostState(StrEnum):
    DRAFT = "draft"
    QUEUED = "queued"
    DISPATCHED = "dispatched"
    AMBIGUOUS = "ambiguous"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELED = "canceled"


TERMINAL = frozenset({PostState.DELIVERED, PostState.FAILED, PostState.CANCELED})


class Post(Aggregate):
    """One publish intent for one account on one platform."""

    # ── events ────────────────────────────────────────────────────────────────

    class Drafted(Aggregate.Created):
        workspace: str
        account: str
        platform: Platform
        content: Content
        external_id: str | None
        grace_seconds: float
        freeze_seconds: float

        def apply(self, post: Post) -> None:
            post.workspace = self.workspace
            post.account = self.account
            post.platform = self.platform
            post.content = self.content
            post.external_id = self.external_id
            post.grace = timedelta(seconds=self.grace_seconds)
            post.freeze = timedelta(seconds=self.freeze_seconds)
            post.content_version = 1
            post.state = PostState.DRAFT
            post.due_at = None
            post.deadline = None
            post.publish_key = None
            post.attempt = 0
            post.counted_failures = 0
            post.lease_until = None
            post.worker = None
            post.next_attempt_at = None
            post.remote_id = None
            post.permalink = None
            post.reconciled = False
            post.failure_reason = None
            post.remediation = None
            post.container_id = None

    class Scheduled(Aggregate.Event):
        due_at: datetime
        deadline: datetime
        publish_key: str
        publish_now: bool

        def apply(self, post: Post) -> None:
            post.state = PostState.QUEUED
            post.due_at = self.due_at
            post.deadline = self.deadline
            post.publish_key = self.publish_key

    class ContentEdited(Aggregate.Event):
        content: Content
        content_version: int
        publish_key: str | None

        def apply(self, post: Post) -> None:
            post.content = self.content
            post.content_version = self.content_version
            post.publish_key = self.publish_key

    class Rescheduled(Aggregate.Event):
        due_at: datetime
        previous_due_at: datetime
        deadline: datetime
        publish_key: str

        def apply(self, post: Post) -> None:
            post.due_at = self.due_at
            post.deadline = self.deadline
            post.publish_key = self.publish_key

    class Canceled(Aggregate.Event):
        reason: str
        previous_state: PostState

        def apply(self, post: Post) -> None:
            post.state = PostState.CANCELED

    class DispatchClaimed(Aggregate.Event):
        attempt: int
        worker: str
        lease_until: datetime
        content_version: int
        publish_key: str

        def apply(self, post: Post) -> None:
            post.state = PostState.DISPATCHED
            post.attempt = self.attempt
            post.worker = self.worker
            post.lease_until = self.lease_until

    class ContainerPrepared(Aggregate.Event):
        """Threads/Instagram: this attempt's container exists. Creating it has no visible effect;
        only publishing it does, so a retry publishes this container and never makes another."""

        attempt: int
        container_id: str

        def apply(self, post: Post) -> None:
            post.container_id = self.container_id

    class Delivered(Aggregate.Event):
        attempt: int
        remote_id: str
        permalink: str | None
        reconciled: bool
        observed: Observed | None  # what the publish attempt saw (None when reconciled)
        evidence: str | None  # how the reconciler knows (None when published directly)

        def apply(self, post: Post) -> None:
            post.state = PostState.DELIVERED
            post.remote_id = self.remote_id
            post.permalink = self.permalink
            post.reconciled = self.reconciled
            post.lease_until = None

    class AttemptFailed(Aggregate.Event):
        """A retryable failure: back to the queue, not before `next_attempt_at`."""

        attempt: int
        observed: Observed
        policy: RetryPolicy
        seed: int
        next_attempt_at: datetime
        counts_toward_limit: bool

        def apply(self, post: Post) -> None:
            post.state = PostState.QUEUED
            post.next_attempt_at = self.next_attempt_at
            post.lease_until = None
            if self.counts_toward_limit:
                post.counted_failures += 1

    class OutcomeAmbiguous(Aggregate.Event):
        """The request may or may not have reached the platform: the reconciler must look."""

        attempt: int
        reason: str
        observed: Observed | None  # None when the lease ran out with no report at all

        def apply(self, post: Post) -> None:
            post.state = PostState.AMBIGUOUS
            post.lease_until = None

    class ReleasedForRetry(Aggregate.Event):
        """The reconciler found no trace of the post, and its deadline is still ahead."""

        attempt: int
        evidence: str
        next_attempt_at: datetime

        def apply(self, post: Post) -> None:
            post.state = PostState.QUEUED
            post.next_attempt_at = self.next_attempt_at

    class Failed(Aggregate.Event):
        attempt: int
        reason: str
        remediation: str
        observed: Observed | None
        policy: RetryPolicy | None  # the policy that decided, when a decision was made
        seed: int | None

        def apply(self, post: Post) -> None:
            post.state = PostState.FAILED
            post.failure_reason = self.reason
            post.remediation = self.remediation
            post.lease_until = None

    # ── attributes set by the events ─────────────────────────────────────────
    # (declared for type checkers only: the library would read class annotations as
    # constructor arguments, and every value here comes from an event's apply)

    if TYPE_CHECKING:
        workspace: str
        account: str
        platform: Platform
        content: Content
        content_version: int
        external_id: str | None
        grace: timedelta
        freeze: timedelta
        state: PostState
        due_at: datetime | None
        deadline: datetime | None
        publish_key: str | None
        attempt: int
        counted_failures: int
        lease_until: datetime | None
        worker: str | None
        next_attempt_at: datetime | None
        remote_id: str | None
        permalink: str | None
        reconciled: bool
        failure_reason: str | None
        remediation: str | None
        container_id: str | None

    # ── commands ──────────────────────────────────────────────────────────────

    @classmethod
    def draft(
        cls,
        *,
        post_id: UUID,
        workspace: str,
        account: str,
        platform: Platform,
        content: Content,
        external_id: str | None,
        grace: timedelta,
        freeze: timedelta,
        now: datetime,
    ) -> Post:
        """A new post in `draft`: it has content and a target, but no time yet."""
        content.check_not_empty()
        return cls._create(
            cls.Drafted,
            id=post_id,
            timestamp=require_utc(now, field="now"),
            workspace=workspace,
            account=account,
            platform=platform,
            content=content,
            external_id=external_id,
            grace_seconds=grace.total_seconds(),
            freeze_seconds=freeze.total_seconds(),
        )

    def schedule(self, due_at: datetime, *, now: datetime, publish_now: bool = False) -> None:
        """Queue a draft for `due_at` (or for `now`, when publishing now)."""
        now = require_utc(now, field="now")
        due = now if publish_now else self._check_future(due_at, now)
        self._check_state(PostState.DRAFT, command="schedule")
        self.trigger_event(
            self.Scheduled,
            timestamp=now,
            due_at=due,
            deadline=due + self.grace,
            publish_key=self._key(self.content_version, due),
            publish_now=publish_now,
        )

    def edit_content(self, content: Content, *, now: datetime) -> None:
        """Replace the content; a queued post gets a new publish key (a new intent)."""
        now = require_utc(now, field="now")
        content.check_not_empty()
        self._check_editable(now, command="edit")
        version = self.content_version + 1
        self.trigger_event(
            self.ContentEdited,
            timestamp=now,
            content=content,
            content_version=version,
            publish_key=self._key(version, self.due_at) if self.due_at else None,
        )

    def reschedule(self, due_at: datetime, *, now: datetime) -> None:
        """Move a queued post to a new future instant, with a new publish key and deadline."""
        now = require_utc(now, field="now")
        due = self._check_future(due_at, now)
        self._check_editable(now, command="reschedule")
        if self.due_at is None:
            raise InvalidTransition("a draft has no time to move; schedule it instead")
        self.trigger_event(
            self.Rescheduled,
            timestamp=now,
            due_at=due,
            previous_due_at=self.due_at,
            deadline=due + self.grace,
            publish_key=self._key(self.content_version, due),
        )

    def cancel(self, *, now: datetime, reason: str = "canceled by request") -> None:
        """Cancel a draft or queued post. Once claimed, it is too late: the request may be out."""
        now = require_utc(now, field="now")
        self._check_not_terminal(command="cancel")
        if self.state not in (PostState.DRAFT, PostState.QUEUED):
            raise InvalidTransition(f"cannot cancel a post that is {self.state}: it may already be on the platform")
        self.trigger_event(self.Canceled, timestamp=now, reason=reason, previous_state=self.state)

    def claim(self, *, worker: str, lease: timedelta, now: datetime, problems: Sequence[Problem] = ()) -> None:
        """Take the post for one publish attempt. Appending this event is the lock.

        `problems` are the content's, checked again against the platform's rules as it is
        claimed: with any, the post fails (`content_rejected`) instead, and nothing is sent."""
        now = require_utc(now, field="now")
        self._check_not_terminal(command="claim")
        if self.state is PostState.DISPATCHED:
            raise AlreadyClaimed(f"attempt {self.attempt} is already claimed by {self.worker}")
        self._check_state(PostState.QUEUED, command="claim")
        assert self.due_at is not None and self.publish_key is not None
        if refusal := refusal_at_claim(problems):
            self._trigger_failed(now, refusal.reason, refusal.remediation, None, policy=None, seed=None)
            return
        not_before = max(self.due_at, self.next_attempt_at or self.due_at)
        if now < not_before:
            raise NotDue(f"the post is not due until {not_before.isoformat()}")
        self.trigger_event(
            self.DispatchClaimed,
            timestamp=now,
            attempt=self.attempt + 1,
            worker=worker,
            lease_until=now + lease,
            content_version=self.content_version,
            publish_key=self.publish_key,
        )

    def record_outcome(
        self,
        *,
        attempt: int,
        observed: Observed,
        policy: RetryPolicy,
        seed: int,
        now: datetime,
    ) -> None:
        """Record what attempt `attempt` observed, as the event `decide` chooses."""
        now = require_utc(now, field="now")
        self._check_open_claim(attempt)
        assert self.deadline is not None
        decision = decide(
            observed,
            failures_so_far=self.counted_failures,
            deadline=self.deadline,
            policy=policy,
            now=now,
            seed=seed,
        )
        if isinstance(decision, Deliver):
            self.trigger_event(
                self.Delivered,
                timestamp=now,
                attempt=attempt,
                remote_id=decision.remote_id,
                permalink=decision.permalink,
                reconciled=False,
                observed=observed,
                evidence=None,
            )
        elif isinstance(decision, Retry):
            self.trigger_event(
                self.AttemptFailed,
                timestamp=now,
                attempt=attempt,
                observed=observed,
                policy=policy,
                seed=seed,
                next_attempt_at=decision.next_attempt_at,
                counts_toward_limit=decision.counts_toward_limit,
            )
        elif isinstance(decision, Fail):
            self._trigger_failed(now, decision.reason, decision.remediation, observed, policy=policy, seed=seed)
        else:
            self.trigger_event(
                self.OutcomeAmbiguous,
                timestamp=now,
                attempt=attempt,
                reason=decision.reason,
                observed=observed,
            )

    def prepare_container(self, *, attempt: int, container_id: str, now: datetime) -> None:
        """Remember the container an attempt created, before publishing it."""
        self._check_open_claim(attempt)
        self.trigger_event(
            self.ContainerPrepared, timestamp=require_utc(now, field="now"), attempt=attempt, container_id=container_id
        )

    def expire_lease(self, *, now: datetime) -> None:
        """A claim whose lease ran out with no outcome: the worker died mid-attempt."""
        now = require_utc(now, field="now")
        self._check_state(PostState.DISPATCHED, command="expire the lease of")
        assert self.lease_until is not None
        if now < self.lease_until:
            raise InvalidTransition(f"the lease runs until {self.lease_until.isoformat()}")
        self.trigger_event(
            self.OutcomeAmbiguous,
            timestamp=now,
            attempt=self.attempt,
            reason="lease_expired",
            observed=None,
        )

    def confirm_delivered(self, found: RemotePost, *, evidence: str, now: datetime) -> None:
        """The reconciler found the ambiguous post on the platform."""
        now = require_utc(now, field="now")
        self._check_state(PostState.AMBIGUOUS, command="reconcile")
        self.trigger_event(
            self.Delivered,
            timestamp=now,
            attempt=self.attempt,
            remote_id=found.remote_id,
            permalink=found.permalink,
            reconciled=True,
            observed=None,
            evidence=evidence,
        )

    def reconcile(self, found: RemotePost | None, *, now: datetime) -> None:
        """Settle an ambiguous post with what the reconciler's look on the platform found, as
        `decisions.reconcile` chooses: delivered, released for a retry, or failed."""
        now = require_utc(now, field="now")
        self._check_state(PostState.AMBIGUOUS, command="reconcile")
        assert self.deadline is not None and self.publish_key is not None
        decision = reconcile(found, publish_key=self.publish_key, deadline=self.deadline, now=now)
        if isinstance(decision, Deliver):
            self.trigger_event(
                self.Delivered,
                timestamp=now,
                attempt=self.attempt,
                remote_id=decision.remote_id,
                permalink=decision.permalink,
                reconciled=True,
                observed=None,
                evidence=decision.evidence,
            )
        elif isinstance(decision, Release):
            self.trigger_event(
                self.ReleasedForRetry,
                timestamp=now,
                attempt=self.attempt,
                evidence=decision.evidence,
                next_attempt_at=decision.next_attempt_at,
            )
        else:
            self._trigger_failed(now, decision.reason, decision.remediation, None, policy=None, seed=None)

    def release_for_retry(self, *, evidence: str, now: datetime) -> None:
        """The reconciler found no trace; try again with the same publish key."""
        now = require_utc(now, field="now")
        self._check_state(PostState.AMBIGUOUS, command="release")
        assert self.deadline is not None
        if now > self.deadline:
            raise InvalidTransition("the deadline has passed; fail the post instead")
        self.trigger_event(
            self.ReleasedForRetry,
            timestamp=now,
            attempt=self.attempt,
            evidence=evidence,
            next_attempt_at=now,
        )

    def fail(self, reason: str, remediation: str, *, now: datetime) -> None:
        """End a queued or ambiguous post as failed (deadline passed, account disconnected...)."""
        now = require_utc(now, field="now")
        self._check_not_terminal(command="fail")
        if self.state not in (PostState.QUEUED, PostState.AMBIGUOUS):
            raise InvalidTransition(f"cannot fail a post that is {self.state}")
        self._trigger_failed(now, reason, remediation, None, policy=None, seed=None)

    # ── queries ───────────────────────────────────────────────────────────────

    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL

    def intent(self) -> PublishIntent:
        """What the post's current attempt asks its platform to publish (the only place an
        intent is made: the dispatcher sends it, the reconciler looks for it)."""
        assert self.due_at is not None and self.publish_key is not None
        return PublishIntent(
            post_id=self.id,
            account=self.account,
            platform=self.platform,
            publish_key=self.publish_key,
            content=self.content,
            attempt=self.attempt,
            due_at=self.due_at,
            container_id=self.container_id,
        )

    # ── guards and helpers ────────────────────────────────────────────────────

    def _trigger_failed(
        self,
        now: datetime,
        reason: str,
        remediation: str,
        observed: Observed | None,
        *,
        policy: RetryPolicy | None,
        seed: int | None,
    ) -> None:
        self.trigger_event(
            self.Failed,
            timestamp=now,
            attempt=self.attempt,
            reason=reason,
            remediation=remediation,
            observed=observed,
            policy=policy,
            seed=seed,
        )

    def _key(self, content_version: int, due_at: datetime) -> str:
        return publish_key(self.id, self.account, self.platform, content_version, due_at)

    def _check_future(self, due_at: datetime, now: datetime) -> datetime:
        due = require_utc(due_at, field="scheduled_at")
        if due < now:
            raise DueTimeInPast(
                f"scheduled_at {due.isoformat()} is before now ({now.isoformat()}); use publish-now to send immediately"
            )
        return due

    def _check_not_terminal(self, *, command: str) -> None:
        if self.state in TERMINAL:
            raise PostIsTerminal(f"cannot {command} a post that is already {self.state}")

    def _check_state(self, expected: PostState, *, command: str) -> None:
        self._check_not_terminal(command=command)
        if self.state is not expected:
            raise InvalidTransition(f"cannot {command} a post that is {self.state}; it must be {expected}")

    def _check_editable(self, now: datetime, *, command: str) -> None:
        self._check_not_terminal(command=command)
        if self.attempt > 0 or self.state not in (PostState.DRAFT, PostState.QUEUED):
            raise PostFrozen(
                f"cannot {command}: the post was already claimed for publishing "
                f"(attempt {self.attempt}), so what it says and when are fixed",
                field="state",
            )
        if self.due_at is not None and now >= self.due_at - self.freeze:
            raise PostFrozen(
                f"cannot {command}: the post is inside its freeze window "
                f"({self.freeze.total_seconds():g}s before {self.due_at.isoformat()})",
                field="scheduled_at",
            )

    def _check_open_claim(self, attempt: int) -> None:
        self._check_not_terminal(command="record an outcome for")
        if self.state is not PostState.DISPATCHED or attempt != self.attempt:
            raise NoOpenClaim(
                f"no open claim for attempt {attempt}: the post is {self.state} at attempt {self.attempt}"
            )


# ── the lifecycle table ──────────────────────────────────────────────────────────
# Every event, the state it leaves the post in (None: unchanged) and what it means. The
# projections derive their state columns from this table, the SQL replay its CASE expressions;
# `tests/unit/test_lifecycle_table.py` fails when an event is missing here or in a projection.

LIFECYCLE: dict[type[Post.Event], tuple[PostState | None, str]] = {
    Post.Drafted: (PostState.DRAFT, "created as a draft: content and a target, no time yet"),
    Post.Scheduled: (PostState.QUEUED, "queued for its due time, with a deadline and a publish key"),
    Post.ContentEdited: (None, "content replaced before any claim; a queued post gets a new publish key"),
    Post.Rescheduled: (PostState.QUEUED, "moved to a new due time, with a new publish key and deadline"),
    Post.Canceled: (PostState.CANCELED, "canceled before any claim"),
    Post.DispatchClaimed: (PostState.DISPATCHED, "claimed by a dispatcher for one attempt, under a lease"),
    Post.ContainerPrepared: (None, "the attempt's Threads/Instagram container exists; nothing is visible yet"),
    Post.Delivered: (PostState.DELIVERED, "live on the platform, with its remote id"),
    Post.AttemptFailed: (PostState.QUEUED, "a retryable failure: queued again after a backoff"),
    Post.OutcomeAmbiguous: (PostState.AMBIGUOUS, "the attempt may or may not have landed: the reconciler looks"),
    Post.ReleasedForRetry: (PostState.QUEUED, "the reconciler found no trace: queued again under the same key"),
    Post.Failed: (PostState.FAILED, "ended without being published, with a reason and a remedy"),
}
STATE_AFTER: dict[type[Post.Event], PostState | None] = {event: state for event, (state, _) in LIFECYCLE.items()}
DESCRIPTION: dict[type[Post.Event], str] = {event: text for event, (_, text) in LIFECYCLE.items()}
EVENT_NAMED: dict[str, type[Post.Event]] = {event.__name__: event for event in LIFECYCLE}
