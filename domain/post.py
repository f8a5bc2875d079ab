"""A post's whole life, told by its events.

    Drafted ─► Scheduled (queued) ─claim─► DispatchClaimed (dispatched) ─► Delivered
                  ▲  │   ▲                      ├─ PartPublished … (a thread's parts, as each lands)
    ContentEdited │  │   │ ClaimAbandoned       ├─ AttemptFailed (retryable) ─► queued again
    Rescheduled   │  │   └──────────────────────┤  Failed (refused; nothing live)
    (before claim)│  ▼ Canceled                 ├─ PartiallyDelivered (some parts live, the rest cannot follow)
                  │                             ├─ Held (401 no refresh could fix) ─► HoldReleased ─► queued
                  │   Held (account disconnected, unknown, unreadable) ◄── queued
                  │                             └─ OutcomeAmbiguous ─► the reconciler looks on the platform:
                  │                                  found ─► Delivered (reconciled)
                  └──────────────────────────────── absent over the whole window ─► ReleasedForRetry
                                                     absent, deadline passed ─► Failed / PartiallyDelivered
                                                     cannot tell, or evidence it landed ─► AttentionNeeded
                                                       (still ambiguous, out of the send loop) ─► Settled

A post is `failed` only when the platform cannot hold it (see `domain/decisions.py`).

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
from domain.decisions import (
    CURRENT_RULES,
    AccountStatus,
    Ambiguous,
    Attention,
    Basis,
    DecisionRules,
    Deliver,
    Fail,
    HasMessage,
    Hold,
    Partial,
    Release,
    Retry,
    RetryPolicy,
    fail,
)
from domain.errors import (
    AlreadyClaimed,
    DueTimeInPast,
    InvalidTransition,
    NoOpenClaim,
    NotDue,
    PostFrozen,
    PostIsTerminal,
    RedriveRefused,
)
from domain.instants import require_due, require_utc
from domain.intent import PublishIntent
from domain.outcomes import Observed, RemotePart, RemotePost, Search, Upload
from domain.publish_key import publish_key
from domain.text import check_text

if TYPE_CHECKING:
    from collections.abc import Sequence


class PostState(StrEnum):
    DRAFT = "draft"
    AWAITING_APPROVAL = "awaiting_approval"
    QUEUED = "queued"
    DISPATCHED = "dispatched"
    AMBIGUOUS = "ambiguous"
    HELD = "held"
    DELIVERED = "delivered"
    PARTIAL = "partial"
    FAILED = "failed"
    CANCELED = "canceled"


TERMINAL = frozenset({PostState.DELIVERED, PostState.PARTIAL, PostState.FAILED, PostState.CANCELED})
CLAIM_AHEAD_MOST = timedelta(seconds=5)  # a claim is made at most this long before the post's instant


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
        redrive_of: UUID | None = None  # the failed post this one sends again
        category: str | None = None  # a queue never puts two of one category back to back

        def apply(self, post: Post) -> None:
            post.redrive_of = self.redrive_of
            post.category = self.category
            post.redriven_as = None
            post.requested_due = None
            post.requested_now = False
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
            post.ambiguous_attempts = 0
            post.lease_until = None
            post.worker = None
            post.next_attempt_at = None
            post.remote_id = None
            post.permalink = None
            post.reconciled = False
            post.failure_reason = None
            post.remediation = None
            post.containers = {}
            post.uploads = {}
            post.first_comment_id = None
            post.parts = {}
            post.window_start = None
            post.claimed_at = None
            post.evidence_of_publish = False
            post.could_have_landed = False
            post.give_up = None
            post.hold_reason = None
            post.held_at = None
            post.attention = None

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

    class ApprovalRequested(Aggregate.Event):
        """Scheduled on an account whose posts an approver must approve first: it waits."""

        due_at: datetime  # the time asked for (now, for publish-now)
        publish_now: bool

        def apply(self, post: Post) -> None:
            post.state = PostState.AWAITING_APPROVAL
            post.requested_due = self.due_at
            post.requested_now = self.publish_now

    class Approved(Aggregate.Event):
        """An approver let it go; the Scheduled event that follows queues it."""

        actor: str
        comment: str

    class Rejected(Aggregate.Event):
        """An approver sent it back: a draft again, to be edited and scheduled anew."""

        actor: str
        comment: str

        def apply(self, post: Post) -> None:
            post.state = PostState.DRAFT
            post.requested_due = None

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
        reason: str = ""  # who or what moved it, when not its author (a queue making room)

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
        """The claim: its instant opens the window in which this attempt could land."""

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
            post.window_start = post.window_start or self.timestamp
            post.claimed_at = self.timestamp

    class ClaimAbandoned(Aggregate.Event):
        """The dispatcher stopped before sending this attempt: nothing left, so it is queued
        again at once, without waiting for the lease to run out."""

        attempt: int
        reason: str

        def apply(self, post: Post) -> None:
            post.state = PostState.QUEUED
            post.lease_until = None
            post.next_attempt_at = self.timestamp

    class ContainerPrepared(Aggregate.Event):
        """Threads/Instagram: this attempt's container for one part exists. Creating it has no
        visible effect; only publishing it does, so a retry publishes this container and never
        makes another."""

        attempt: int
        container_id: str
        part: int = 1

        def apply(self, post: Post) -> None:
            post.containers = {**post.containers, self.part: self.container_id}

    class PartPublished(Aggregate.Event):
        """One part of a thread is live; a resumed attempt starts after the last live part."""

        attempt: int
        part: int
        remote_id: str
        permalink: str | None

        def apply(self, post: Post) -> None:
            post.parts = {
                **post.parts,
                self.part: RemotePart(part=self.part, remote_id=self.remote_id, permalink=self.permalink),
            }

    class MediaUploaded(Aggregate.Event):
        """A file of one part reached the platform for this attempt (an upload, not a post:
        nothing is visible yet). A retry reuses it until it expires, then uploads again."""

        attempt: int
        part: int
        index: int
        remote_media_id: str
        expires_at: datetime | None = None

        def apply(self, post: Post) -> None:
            key = f"{self.part}:{self.index}"
            post.uploads = {**post.uploads, key: Upload(remote_id=self.remote_media_id, expires_at=self.expires_at)}

    class FirstCommentPosted(Aggregate.Event):
        """The post's first comment (or self-reply) is live: sent once the post was."""

        attempt: int
        remote_id: str
        permalink: str | None = None

        def apply(self, post: Post) -> None:
            post.first_comment_id = self.remote_id

    class FirstCommentFailed(Aggregate.Event):
        """The first comment did not go; the post itself is live all the same."""

        attempt: int
        reason: str
        observed: Observed | None = None

        def apply(self, post: Post) -> None:
            pass

    class Delivered(Aggregate.Event):
        attempt: int
        remote_id: str
        permalink: str | None
        reconciled: bool
        observed: Observed | None  # what the publish attempt saw (None when reconciled)
        evidence: str | None  # how the reconciler knows (None when published directly)
        parts: tuple[RemotePart, ...] = ()  # every part's remote id, for a thread
        basis: Basis | None = None  # what the decision was made from (None: not a decision)

        def apply(self, post: Post) -> None:
            post.state = PostState.DELIVERED
            post.remote_id = self.remote_id
            post.permalink = self.permalink
            post.reconciled = self.reconciled
            post.lease_until = None
            post.parts = {**post.parts, **{part.part: part for part in self.parts}}

    class AttemptFailed(Aggregate.Event):
        """A retryable failure: back to the queue, not before `next_attempt_at`."""

        attempt: int
        observed: Observed
        policy: RetryPolicy
        seed: int
        next_attempt_at: datetime
        counts_toward_limit: bool
        basis: Basis | None = None  # what the decision was made from (None: not a decision)

        def apply(self, post: Post) -> None:
            post.state = PostState.QUEUED
            post.next_attempt_at = self.next_attempt_at
            post.lease_until = None
            if self.counts_toward_limit:
                post.counted_failures += 1
            # a 5xx may come after the platform kept the post: live until a look proves otherwise
            post.could_have_landed = post.could_have_landed or self.observed.kind == "server_error"

    class OutcomeAmbiguous(Aggregate.Event):
        """The request may or may not have reached the platform: the reconciler must look."""

        attempt: int
        reason: str
        observed: Observed | None  # None when the lease ran out with no report at all
        basis: Basis | None = None  # what the decision was made from (None: not a decision)

        def apply(self, post: Post) -> None:
            post.state = PostState.AMBIGUOUS
            post.lease_until = None
            post.ambiguous_attempts += 1
            post.evidence_of_publish = post.evidence_of_publish or self.reason == "already_published"
            post.could_have_landed = True
            if self.reason in ("retries_exhausted", "deadline_passed"):
                post.give_up = self.reason  # stopped trying: proven absent, it fails with this reason

    class ReleasedForRetry(Aggregate.Event):
        """The reconciler looked over the whole window and found no trace (of the parts not
        listed): try again under the same publish key."""

        attempt: int
        evidence: str
        next_attempt_at: datetime
        parts: tuple[RemotePart, ...] = ()  # parts it found live: the next attempt resumes after them
        basis: Basis | None = None  # what the decision was made from (None: not a decision)

        def apply(self, post: Post) -> None:
            post.state = PostState.QUEUED
            post.next_attempt_at = self.next_attempt_at
            post.parts = {**post.parts, **{part.part: part for part in self.parts}}
            post.window_start = None  # absence is proven up to now
            post.evidence_of_publish = False
            post.could_have_landed = False

    class AttentionNeeded(Aggregate.Event):
        """The reconciler cannot settle the post (it cannot see the whole window, or the
        evidence conflicts): still ambiguous, never sent again, listed for support."""

        attempt: int
        reason: str
        evidence: str
        remediation: str
        parts: tuple[RemotePart, ...] = ()
        basis: Basis | None = None  # what the decision was made from (None: not a decision)

        def apply(self, post: Post) -> None:
            post.attention = self.reason
            post.remediation = self.remediation
            post.parts = {**post.parts, **{part.part: part for part in self.parts}}

    class SettledLive(Aggregate.Event):
        """Support found the post the reconciler could not: it is live, with this remote id."""

        attempt: int
        remote_id: str
        permalink: str | None
        actor: str
        note: str

        def apply(self, post: Post) -> None:
            post.state = PostState.DELIVERED
            post.attention = None
            post.remote_id = self.remote_id
            post.permalink = self.permalink
            post.reconciled = True

    class SettledNotLive(Aggregate.Event):
        """Support saw the post is not on the platform: queued again under the same key."""

        attempt: int
        actor: str
        note: str

        def apply(self, post: Post) -> None:
            post.state = PostState.QUEUED
            post.attention = None
            post.next_attempt_at = self.timestamp
            post.window_start = None
            post.evidence_of_publish = False
            post.could_have_landed = False
            post.ambiguous_attempts = 0

    class Held(Aggregate.Event):
        """The post waits, visibly, for its account: disconnected, unknown, credentials that
        cannot be opened, a platform with no adapter, or a 401 no refresh could fix."""

        attempt: int
        reason: str
        detail: str
        remediation: str
        observed: Observed | None = None  # the 401, when an attempt was refused
        # a (re)connection of the account from this instant on mends the hold: the account was
        # read as it stood then (None: from the hold itself)
        mended_after: datetime | None = None
        basis: Basis | None = None  # what the decision was made from (None: not a decision)

        def apply(self, post: Post) -> None:
            post.state = PostState.HELD
            post.hold_reason = self.reason
            post.held_at = self.mended_after or self.timestamp
            post.remediation = self.remediation
            post.lease_until = None

    class HoldReleased(Aggregate.Event):
        evidence: str
        basis: Basis | None = None  # what the decision was made from (None: not a decision)

        def apply(self, post: Post) -> None:
            post.state = PostState.QUEUED
            post.next_attempt_at = self.timestamp
            post.hold_reason = None
            post.remediation = None

    class PartiallyDelivered(Aggregate.Event):
        """A thread whose first parts are live and whose rest cannot follow (refused, out of
        retries, or out of time): it ends here, saying which parts are live."""

        attempt: int
        reason: str
        remediation: str
        parts: tuple[RemotePart, ...]
        observed: Observed | None
        basis: Basis | None = None  # what the decision was made from (None: not a decision)

        def apply(self, post: Post) -> None:
            post.state = PostState.PARTIAL
            post.failure_reason = self.reason
            post.remediation = self.remediation
            post.lease_until = None
            post.parts = {**post.parts, **{part.part: part for part in self.parts}}
            if self.parts:
                post.remote_id = self.parts[0].remote_id
                post.permalink = self.parts[0].permalink

    class Redriven(Aggregate.Event):
        """A failed post, proved not live, sent again as a new post with its own key."""

        new_post_id: UUID
        actor: str

        def apply(self, post: Post) -> None:
            post.redriven_as = self.new_post_id

    class Failed(Aggregate.Event):
        attempt: int
        reason: str
        remediation: str
        observed: Observed | None
        policy: RetryPolicy | None  # the policy that decided, when a decision was made
        seed: int | None
        basis: Basis | None = None  # what the decision was made from (None: not a decision)

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
        ambiguous_attempts: int
        lease_until: datetime | None
        worker: str | None
        next_attempt_at: datetime | None
        remote_id: str | None
        permalink: str | None
        reconciled: bool
        failure_reason: str | None
        remediation: str | None
        containers: dict[int, str]
        uploads: dict[str, Upload]  # "part:index" → the file's upload to the platform
        first_comment_id: str | None
        parts: dict[int, RemotePart]
        window_start: datetime | None
        claimed_at: datetime | None
        evidence_of_publish: bool
        could_have_landed: bool
        give_up: str | None
        hold_reason: str | None
        held_at: datetime | None
        attention: str | None
        redrive_of: UUID | None
        redriven_as: UUID | None
        requested_due: datetime | None
        requested_now: bool
        category: str | None

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
        redrive_of: UUID | None = None,
        category: str | None = None,
    ) -> Post:
        """A new post in `draft`: it has content and a target, but no time yet."""
        content.check_not_empty()
        content.check_characters()
        check_text(account, field="account")
        if external_id is not None:
            check_text(external_id, field="external_id")
        if category is not None:
            check_text(category, field="category")
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
            redrive_of=redrive_of,
            category=category,
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

    def request_approval(self, due_at: datetime, *, now: datetime, publish_now: bool = False) -> None:
        """Ask for approval to queue this draft for `due_at` (or now): it waits, visibly."""
        now = require_utc(now, field="now")
        due = now if publish_now else self._check_future(due_at, now)
        self._check_state(PostState.DRAFT, command="schedule")
        self.trigger_event(self.ApprovalRequested, timestamp=now, due_at=due, publish_now=publish_now)

    def approve(self, *, actor: str, comment: str, now: datetime) -> None:
        """An approver lets it go: queued for the time asked (now, for publish-now). A time that
        passed while it waited is refused: approve by rejecting and scheduling a new time."""
        now = require_utc(now, field="now")
        self._check_state(PostState.AWAITING_APPROVAL, command="approve")
        check_text(actor, field="actor")
        check_text(comment, field="comment")
        assert self.requested_due is not None
        if not self.requested_now:
            self._check_future(self.requested_due, now)
        self.trigger_event(self.Approved, timestamp=now, actor=actor, comment=comment)
        due = now if self.requested_now else self.requested_due
        self.trigger_event(
            self.Scheduled,
            timestamp=now,
            due_at=due,
            deadline=due + self.grace,
            publish_key=self._key(self.content_version, due),
            publish_now=self.requested_now,
        )

    def reject(self, *, actor: str, comment: str, now: datetime) -> None:
        """An approver sends it back to draft, saying why."""
        now = require_utc(now, field="now")
        self._check_state(PostState.AWAITING_APPROVAL, command="reject")
        check_text(actor, field="actor")
        check_text(comment, field="comment")
        self.trigger_event(self.Rejected, timestamp=now, actor=actor, comment=comment)

    def edit_content(self, content: Content, *, now: datetime) -> None:
        """Replace the content; a queued post gets a new publish key (a new intent)."""
        now = require_utc(now, field="now")
        content.check_not_empty()
        content.check_characters()
        self._check_editable(now, command="edit")
        version = self.content_version + 1
        self.trigger_event(
            self.ContentEdited,
            timestamp=now,
            content=content,
            content_version=version,
            publish_key=self._key(version, self.due_at) if self.due_at else None,
        )

    def reschedule(self, due_at: datetime, *, now: datetime, reason: str = "") -> None:
        """Move a queued post to a new future instant, with a new publish key and deadline."""
        now = require_utc(now, field="now")
        due = self._check_future(due_at, now)
        self._check_editable(now, command="reschedule")
        if self.due_at is None:
            raise InvalidTransition(
                "a draft has no time to move; schedule it instead (POST …/posts/{id}/schedule, or "
                "herald post schedule-draft)"
            )
        self.trigger_event(
            self.Rescheduled,
            timestamp=now,
            due_at=due,
            previous_due_at=self.due_at,
            deadline=due + self.grace,
            publish_key=self._key(self.content_version, due),
            reason=reason,
        )

    def redrive(self, new_post_id: UUID, *, actor: str, now: datetime) -> None:
        """Say that this failed post is sent again as `new_post_id`. Only a `failed` post: by
        the invariant it is proved not live (refused before acceptance, proved absent by a
        full search, or out of time with no attempt that could have landed). A post that
        may be live (ambiguous, held, partial, delivered) is refused, and so is a second
        redrive of the same post."""
        if self.state is not PostState.FAILED:
            raise RedriveRefused(
                f"only a failed post is sent again; this one is {self.state.value}"
                + (", and may be live on the platform" if self.state is not PostState.DRAFT else "")
            )
        if self.redriven_as is not None:
            raise RedriveRefused(f"it was sent again already, as post {self.redriven_as}")
        check_text(actor, field="actor")
        self.trigger_event(self.Redriven, timestamp=require_utc(now, field="now"), new_post_id=new_post_id, actor=actor)

    def cancel(self, *, now: datetime, reason: str = "canceled by request") -> None:
        """Cancel a draft, queued or held post. Once claimed, it is too late: the request may be out."""
        now = require_utc(now, field="now")
        self._check_not_terminal(command="cancel")
        if (
            self.state not in (PostState.DRAFT, PostState.AWAITING_APPROVAL, PostState.QUEUED, PostState.HELD)
            or self.parts
        ):
            raise InvalidTransition(f"cannot cancel a post that is {self.state}: it may already be on the platform")
        self.trigger_event(self.Canceled, timestamp=now, reason=reason, previous_state=self.state)

    def claim(
        self,
        *,
        worker: str,
        lease: timedelta,
        now: datetime,
        problems: Sequence[HasMessage] = (),
        rules: DecisionRules = CURRENT_RULES,
        ahead: timedelta = timedelta(0),
    ) -> None:
        """Take the post for one publish attempt. Appending this event is the lock.

        `problems` are the content's, checked again against the platform's rules as it is
        claimed: with any, the post fails (`content_rejected`) instead, and nothing is sent.

        A claim may be made up to `ahead` (at most `CLAIM_AHEAD_MOST`) before the post's
        instant, so the send can start at the instant itself; the attempt is never sent before
        it (`PublishIntent.send_at`). From the claim on, the post is fixed, as in its freeze."""
        now = require_utc(now, field="now")
        self._check_not_terminal(command="claim")
        if self.state is PostState.DISPATCHED:
            raise AlreadyClaimed(f"attempt {self.attempt} is already claimed by {self.worker}")
        self._check_state(PostState.QUEUED, command="claim")
        assert self.due_at is not None and self.publish_key is not None
        if (refusal := rules.refusal_at_claim(problems)) and not self.parts:
            basis = Basis(rule="claim", version=rules.version, problems=tuple(p.message for p in problems))
            self._trigger_failed(now, refusal.reason, refusal.remediation, None, policy=None, seed=None, basis=basis)
            return
        not_before = self.ready_at
        assert not_before is not None
        if now + min(max(ahead, timedelta(0)), CLAIM_AHEAD_MOST) < not_before:
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

    def abandon_claim(self, *, attempt: int, now: datetime, reason: str) -> None:
        """The dispatcher will not send this attempt after all (it is stopping): queue it again."""
        self._check_open_claim(attempt)
        self.trigger_event(self.ClaimAbandoned, timestamp=require_utc(now, field="now"), attempt=attempt, reason=reason)

    def record_part(self, *, attempt: int, part: RemotePart, now: datetime) -> None:
        """A thread's part went live during attempt `attempt`."""
        self._check_open_claim(attempt)
        if part.part in self.parts:
            return  # already known: reporting it again changes nothing
        self.trigger_event(
            self.PartPublished,
            timestamp=require_utc(now, field="now"),
            attempt=attempt,
            part=part.part,
            remote_id=part.remote_id,
            permalink=part.permalink,
        )

    def record_upload(
        self, *, attempt: int, part: int, index: int, remote_media_id: str, expires_at: datetime | None, now: datetime
    ) -> None:
        """A file of the post reached the platform during attempt `attempt`."""
        self._check_open_claim(attempt)
        self.trigger_event(
            self.MediaUploaded,
            timestamp=require_utc(now, field="now"),
            attempt=attempt,
            part=part,
            index=index,
            remote_media_id=remote_media_id,
            expires_at=require_utc(expires_at, field="expires_at") if expires_at else None,
        )

    def record_first_comment(
        self, *, attempt: int, remote_id: str | None, permalink: str | None, observed: Observed | None, now: datetime
    ) -> None:
        """The first comment went (its remote id), or did not (what was seen); the post stands."""
        self._check_open_claim(attempt)
        now = require_utc(now, field="now")
        if self.first_comment_id is not None:
            return  # once only
        if remote_id is not None:
            self.trigger_event(
                self.FirstCommentPosted, timestamp=now, attempt=attempt, remote_id=remote_id, permalink=permalink
            )
        else:
            reason = observed.kind.value if observed is not None else "unknown"
            self.trigger_event(
                self.FirstCommentFailed, timestamp=now, attempt=attempt, reason=reason, observed=observed
            )

    def record_outcome(
        self,
        *,
        attempt: int,
        observed: Observed,
        policy: RetryPolicy,
        seed: int,
        now: datetime,
        rules: DecisionRules = CURRENT_RULES,
    ) -> None:
        """Record what attempt `attempt` observed, as the event `decide` chooses."""
        now = require_utc(now, field="now")
        self._check_open_claim(attempt)
        assert self.deadline is not None
        basis = Basis(rule="outcome", version=rules.version, policy=policy, seed=seed, observed=observed)
        decision = rules.decide(
            observed,
            attempt=attempt,
            failures_so_far=self.counted_failures,
            parts_live=self.live_parts,
            deadline=self.deadline,
            policy=policy,
            now=now,
            seed=seed,
            could_have_landed=self.could_have_landed,
        )
        if isinstance(decision, Deliver):
            self._trigger_delivered(now, decision, observed=observed, basis=basis)
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
                basis=basis,
            )
        elif isinstance(decision, Fail):
            self._trigger_failed(
                now, decision.reason, decision.remediation, observed, policy=policy, seed=seed, basis=basis
            )
        elif isinstance(decision, Partial):
            self._trigger_partial(now, decision, observed, basis=basis)
        elif isinstance(decision, Hold):
            detail = observed.message or f"HTTP {observed.http_status}"
            # the refused token was read for this attempt: a connection since its claim mends it
            self._trigger_held(
                now, decision.reason, detail, decision.remediation, observed, self.claimed_at, basis=basis
            )
        else:
            self.trigger_event(
                self.OutcomeAmbiguous,
                timestamp=now,
                attempt=attempt,
                reason=decision.reason,
                observed=observed,
                basis=basis,
            )

    def prepare_container(self, *, attempt: int, container_id: str, now: datetime, part: int = 1) -> None:
        """Remember the container an attempt created for one part, before publishing it."""
        self._check_open_claim(attempt)
        self.trigger_event(
            self.ContainerPrepared,
            timestamp=require_utc(now, field="now"),
            attempt=attempt,
            container_id=container_id,
            part=part,
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
            basis=Basis(rule="lease", version=CURRENT_RULES.version),
        )

    def reconcile(
        self, search: Search, *, policy: RetryPolicy, now: datetime, rules: DecisionRules = CURRENT_RULES
    ) -> None:
        """Settle an ambiguous post with what the reconciler's look on the platform found, as
        `decisions.reconcile` chooses."""
        now = require_utc(now, field="now")
        self._check_state(PostState.AMBIGUOUS, command="reconcile")
        if self.attention is not None:
            raise InvalidTransition(f"the post waits for support ({self.attention}); settle it instead")
        assert self.deadline is not None
        basis = Basis(rule="reconcile", version=rules.version, policy=policy, search=search)
        decision = rules.reconcile(
            search,
            parts_total=self.content.parts,
            live=tuple(self.parts.values()),
            deadline=self.deadline,
            now=now,
            ambiguous_attempts=self.ambiguous_attempts,
            bound=policy.ambiguity_bound,
            evidence_of_publish=self.evidence_of_publish,
            give_up=self.give_up,
        )
        if isinstance(decision, Deliver):
            self._trigger_delivered(now, decision, observed=None, basis=basis)
        elif isinstance(decision, Release):
            self.trigger_event(
                self.ReleasedForRetry,
                timestamp=now,
                attempt=self.attempt,
                evidence=decision.evidence,
                next_attempt_at=decision.next_attempt_at,
                parts=decision.parts,
                basis=basis,
            )
        elif isinstance(decision, Attention):
            self.trigger_event(
                self.AttentionNeeded,
                timestamp=now,
                attempt=self.attempt,
                reason=decision.reason,
                evidence=decision.evidence,
                remediation=decision.remediation,
                parts=decision.parts,
                basis=basis,
            )
        elif isinstance(decision, Partial):
            self._trigger_partial(now, decision, None, basis=basis)
        else:
            self._trigger_failed(now, decision.reason, decision.remediation, None, policy=None, seed=None, basis=basis)

    def confirm_delivered(self, found: RemotePost, *, evidence: str, now: datetime) -> None:
        """Evidence from outside the reconciler (a platform callback) that the post is live."""
        now = require_utc(now, field="now")
        self._check_state(PostState.AMBIGUOUS, command="confirm")
        self._trigger_delivered(
            now, Deliver(remote_id=found.remote_id, permalink=found.permalink, evidence=evidence), observed=None
        )

    def release_for_retry(self, *, evidence: str, now: datetime) -> None:
        """No trace of the post: try again with the same publish key (before the deadline)."""
        now = require_utc(now, field="now")
        self._check_state(PostState.AMBIGUOUS, command="release")
        assert self.deadline is not None
        if now > self.deadline:
            raise InvalidTransition("the deadline has passed; fail the post instead")
        self.trigger_event(
            self.ReleasedForRetry, timestamp=now, attempt=self.attempt, evidence=evidence, next_attempt_at=now
        )

    def settle(self, *, live: RemotePost | None, actor: str, note: str, now: datetime) -> None:
        """Support's answer for a post waiting for attention: live (delivered, with its remote
        id) or not live (queued again, under the same key, if its deadline is still ahead)."""
        now = require_utc(now, field="now")
        self._check_state(PostState.AMBIGUOUS, command="settle")
        assert self.deadline is not None
        if live is not None:
            self.trigger_event(
                self.SettledLive,
                timestamp=now,
                attempt=self.attempt,
                remote_id=live.remote_id,
                permalink=live.permalink,
                actor=actor,
                note=note,
            )
        elif now > self.deadline or self.give_up is not None:
            self._trigger_ended(now, fail(self.give_up or "deadline_passed", f"Settled not live by {actor}: {note}."))
        else:
            self.trigger_event(self.SettledNotLive, timestamp=now, attempt=self.attempt, actor=actor, note=note)

    def hold(
        self, reason: str, detail: str, remediation: str, *, now: datetime, seen_at: datetime | None = None
    ) -> None:
        """Keep a queued post from going out until its account is mended (`seen_at`: when the
        account was read as it holds the post; a connection from then on mends it)."""
        now = require_utc(now, field="now")
        self._check_state(PostState.QUEUED, command="hold")
        self._trigger_held(now, reason, detail, remediation, None, seen_at)

    def release_hold(
        self, account: AccountStatus | None, *, now: datetime, rules: DecisionRules = CURRENT_RULES
    ) -> None:
        """Look again at what holds the post (`decisions.release_held`): released, failed at
        its deadline, or left held (no event)."""
        now = require_utc(now, field="now")
        self._check_state(PostState.HELD, command="release the hold of")
        assert self.deadline is not None and self.hold_reason is not None and self.held_at is not None
        basis = Basis(rule="hold", version=rules.version, account=account)
        decision = rules.release_held(
            self.hold_reason,
            self.held_at,
            account,
            deadline=self.deadline,
            now=now,
            could_have_landed=self.could_have_landed,
        )
        if isinstance(decision, Release):
            self.trigger_event(self.HoldReleased, timestamp=now, evidence=decision.evidence, basis=basis)
        elif isinstance(decision, Fail):
            self._trigger_ended(now, decision, basis=basis)
        elif isinstance(decision, Ambiguous):
            self._trigger_ambiguous(now, decision.reason, basis)

    def pass_deadline(self, *, now: datetime, rules: DecisionRules = CURRENT_RULES) -> None:
        """A queued post whose deadline passed never goes out late: it fails (`deadline_passed`),
        or is looked for first when an earlier attempt may be live."""
        now = require_utc(now, field="now")
        self._check_state(PostState.QUEUED, command="expire")
        assert self.deadline is not None
        if now <= self.deadline:
            raise InvalidTransition(f"the deadline is {self.deadline.isoformat()}, still ahead")
        basis = Basis(rule="deadline", version=rules.version)
        decision = rules.past_deadline(could_have_landed=self.could_have_landed)
        if isinstance(decision, Ambiguous):
            self._trigger_ambiguous(now, decision.reason, basis)
        else:
            self._trigger_ended(now, decision, basis=basis)

    def fail(self, reason: str, remediation: str, *, now: datetime) -> None:
        """End a queued or held post as failed (its deadline passed before it could go out)."""
        now = require_utc(now, field="now")
        self._check_not_terminal(command="fail")
        if self.state is PostState.AMBIGUOUS:
            raise InvalidTransition("an ambiguous post may be live: reconcile or settle it, never just fail it")
        if self.state not in (PostState.QUEUED, PostState.HELD):
            raise InvalidTransition(f"cannot fail a post that is {self.state}")
        self._trigger_ended(now, Fail(reason=reason, remediation=remediation))

    # ── queries ───────────────────────────────────────────────────────────────

    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL

    @property
    def ready_at(self) -> datetime | None:
        """The instant from which a queued post may be claimed: its due instant, or its retry's."""
        if self.due_at is None:
            return None
        return max(self.due_at, self.next_attempt_at or self.due_at)

    @property
    def live_parts(self) -> int:
        """How many of the thread's parts are live, from the first on."""
        count = 0
        while count + 1 in self.parts:
            count += 1
        return count

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
            containers=dict(self.containers),
            uploads=dict(self.uploads),
            comment_done=self.first_comment_id is not None,
            live=tuple(self.parts[n] for n in sorted(self.parts)),
            window_start=self.window_start,
            workspace=self.workspace,
            send_at=self.ready_at,
        )

    # ── guards and helpers ────────────────────────────────────────────────────

    def _trigger_ambiguous(self, now: datetime, reason: str, basis: Basis | None) -> None:
        self.trigger_event(
            self.OutcomeAmbiguous, timestamp=now, attempt=self.attempt, reason=reason, observed=None, basis=basis
        )

    def _trigger_delivered(
        self, now: datetime, decision: Deliver, *, observed: Observed | None, basis: Basis | None = None
    ) -> None:
        self.trigger_event(
            self.Delivered,
            timestamp=now,
            attempt=self.attempt,
            remote_id=decision.remote_id,
            permalink=decision.permalink,
            reconciled=observed is None,
            observed=observed,
            evidence=decision.evidence,
            parts=decision.parts,
            basis=basis,
        )

    def _trigger_partial(
        self, now: datetime, decision: Partial, observed: Observed | None, *, basis: Basis | None = None
    ) -> None:
        self.trigger_event(
            self.PartiallyDelivered,
            timestamp=now,
            attempt=self.attempt,
            reason=decision.reason,
            remediation=decision.remediation,
            parts=decision.parts or tuple(self.parts[n] for n in sorted(self.parts)),
            observed=observed,
            basis=basis,
        )

    def _trigger_ended(self, now: datetime, failed: Fail, *, basis: Basis | None = None) -> None:
        """The post stops trying: failed, or partly delivered when some of its parts are live."""
        if self.parts:
            remedy = f"Parts 1 to {self.live_parts} are live; the rest could not follow. {failed.remediation}"
            self._trigger_partial(now, Partial(reason=failed.reason, remediation=remedy), None, basis=basis)
        else:
            self._trigger_failed(now, failed.reason, failed.remediation, None, policy=None, seed=None, basis=basis)

    def _trigger_held(
        self,
        now: datetime,
        reason: str,
        detail: str,
        remediation: str,
        observed: Observed | None,
        mended_after: datetime | None,
        *,
        basis: Basis | None = None,
    ) -> None:
        self.trigger_event(
            self.Held,
            timestamp=now,
            attempt=self.attempt,
            reason=reason,
            detail=detail,
            remediation=remediation,
            observed=observed,
            mended_after=mended_after,
            basis=basis,
        )

    def _trigger_failed(
        self,
        now: datetime,
        reason: str,
        remediation: str,
        observed: Observed | None,
        *,
        policy: RetryPolicy | None,
        seed: int | None,
        basis: Basis | None = None,
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
            basis=basis,
        )

    def _key(self, content_version: int, due_at: datetime) -> str:
        return publish_key(self.id, self.account, self.platform, content_version, due_at)

    def _check_future(self, due_at: datetime, now: datetime) -> datetime:
        due = require_due(due_at)
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

# steps beside the post itself (an attempt's uploads and first comment, a redrive's link to the
# new post): they change no state and no projection but the timeline
SIDE_STEPS: tuple[type[Post.Event], ...] = (
    Post.MediaUploaded,
    Post.FirstCommentPosted,
    Post.FirstCommentFailed,
    Post.Redriven,
)

LIFECYCLE: dict[type[Post.Event], tuple[PostState | None, str]] = {
    Post.Drafted: (PostState.DRAFT, "created as a draft: content and a target, no time yet"),
    Post.Scheduled: (PostState.QUEUED, "queued for its due time, with a deadline and a publish key"),
    Post.ApprovalRequested: (PostState.AWAITING_APPROVAL, "waiting for an approver before it is queued"),
    Post.Approved: (None, "approved: queued next, for the time asked"),
    Post.Rejected: (PostState.DRAFT, "sent back to draft by an approver, with a comment"),
    Post.ContentEdited: (None, "content replaced before any claim; a queued post gets a new publish key"),
    Post.Rescheduled: (PostState.QUEUED, "moved to a new due time, with a new publish key and deadline"),
    Post.Canceled: (PostState.CANCELED, "canceled before any claim"),
    Post.DispatchClaimed: (PostState.DISPATCHED, "claimed by a dispatcher for one attempt, under a lease"),
    Post.ClaimAbandoned: (PostState.QUEUED, "the dispatcher stopped before sending: queued again at once"),
    Post.ContainerPrepared: (None, "the attempt's Threads/Instagram container exists; nothing is visible yet"),
    Post.PartPublished: (None, "one part of a thread is live"),
    Post.MediaUploaded: (None, "a file reached the platform for this attempt; nothing is visible yet"),
    Post.FirstCommentPosted: (None, "the first comment is live, after the post"),
    Post.FirstCommentFailed: (None, "the first comment did not go; the post is live all the same"),
    Post.Delivered: (PostState.DELIVERED, "live on the platform, every part, with its remote id"),
    Post.AttemptFailed: (PostState.QUEUED, "a retryable failure: queued again after a backoff"),
    Post.OutcomeAmbiguous: (PostState.AMBIGUOUS, "the attempt may or may not have landed: the reconciler looks"),
    Post.ReleasedForRetry: (PostState.QUEUED, "the reconciler proved it absent: queued again under the same key"),
    Post.AttentionNeeded: (None, "the reconciler cannot settle it: out of the send loop, listed for support"),
    Post.SettledLive: (PostState.DELIVERED, "support found it live on the platform"),
    Post.SettledNotLive: (PostState.QUEUED, "support saw it is not on the platform: queued again"),
    Post.Held: (PostState.HELD, "held until its account is mended (or its deadline passes)"),
    Post.HoldReleased: (PostState.QUEUED, "what held it is mended: queued again"),
    Post.PartiallyDelivered: (PostState.PARTIAL, "some parts of the thread are live and the rest cannot follow"),
    Post.Failed: (PostState.FAILED, "ended without being published, with a reason and a remedy"),
    Post.Redriven: (None, "sent again as a new post, with its own publish key"),
}
STATE_AFTER: dict[type[Post.Event], PostState | None] = {event: state for event, (state, _) in LIFECYCLE.items()}
DESCRIPTION: dict[type[Post.Event], str] = {event: text for event, (_, text) in LIFECYCLE.items()}
EVENT_NAMED: dict[str, type[Post.Event]] = {event.__name__: event for event in LIFECYCLE}
