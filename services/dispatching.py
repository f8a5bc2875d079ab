"""Dispatch commands: claiming due posts and recording what each attempt observed, in batches.

A claim is an event appended at the post's next version (the store's unique version is the
lock). Claims and outcomes are saved many posts per transaction; a post that conflicts is
refused alone and the others still go through.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from domain.decisions import REMEDIATIONS, AccountStatus, jitter_seed
from domain.intent import PublishIntent
from domain.outcomes import Observed, RemotePart, RemotePost, Search
from domain.post import Post, PostState
from domain.validation import validate
from services.content_rules import ContentRules
from services.ports import AccountSettings, Clock
from services.post_repository import PostRepository
from services.results import CommandResult, OutcomeReport, PostSettings


class DispatchCommands:
    def __init__(
        self,
        posts: PostRepository,
        *,
        rules: ContentRules,
        account_settings: AccountSettings | None,
        clock: Clock,
        settings: PostSettings,
    ) -> None:
        self.posts = posts
        self.rules = rules
        self.account_settings = account_settings
        self.clock = clock
        self.settings = settings

    def claim(self, post_id: UUID, *, worker: str) -> CommandResult:
        """Claim one due post for `worker`; a lost race is a refusal, not an exception."""
        return self.claim_many([post_id], worker=worker)[0]

    def claim_many(
        self, post_ids: Iterable[UUID], *, worker: str, ahead: timedelta = timedelta(0)
    ) -> list[CommandResult]:
        """Claim many due posts in one transaction; posts that conflict are refused alone.

        Each post's content is checked again against its platform's rules (and its account's
        own limits, read for the whole batch at once): a post that fails them now is failed as
        `content_rejected`, and never sent. A post due within `ahead` may be claimed now; its
        attempt is sent at its instant (`PublishIntent.send_at`)."""
        now = self.clock()
        lease = self.settings.lease
        settings: dict[tuple[str, str], dict[str, Any]] = {}

        def read_settings(posts: Iterable[Post]) -> None:
            if self.account_settings is not None:
                pairs = {(post.workspace, post.account) for post in posts}
                found = self.account_settings(pairs)
                settings.update({pair: found.get(pair, {}) for pair in pairs})

        def claim(post: Post) -> None:
            own = settings.get((post.workspace, post.account))  # None: not read with the batch
            problems = validate(post.content, self.rules.rules_for(post.platform, post.workspace, post.account, own))
            post.claim(worker=worker, lease=lease, now=now, problems=problems, ahead=ahead)

        return self.posts.change_many(post_ids, claim, before=read_settings)

    def record_outcome(self, post_id: UUID, attempt: int, observed: Observed) -> CommandResult:
        return self.record_outcomes([OutcomeReport(post_id, attempt, observed)])[0]

    def record_outcomes(self, reports: Sequence[OutcomeReport]) -> list[CommandResult]:
        """Record many attempts' outcomes in one transaction, each as its decided event."""
        now = self.clock()
        by_id = {report.post_id: report for report in reports}
        policy = self.settings.retry_policy

        def record(post: Post) -> None:
            report = by_id[post.id]
            post.record_outcome(
                attempt=report.attempt,
                observed=report.observed,
                policy=policy,
                seed=jitter_seed(post.publish_key or "", report.attempt),
                now=now,
            )

        return self.posts.change_many(by_id, record)

    def prepare_container(self, post_id: UUID, attempt: int, container_id: str, part: int = 1) -> None:
        self.posts.change(
            post_id,
            lambda post: post.prepare_container(
                attempt=attempt, container_id=container_id, part=part, now=self.clock()
            ),
        )

    def record_part(self, post_id: UUID, attempt: int, part: RemotePart) -> None:
        """A thread's part went live: recorded at once, so no resumed attempt posts it twice."""
        self.posts.change(post_id, lambda post: post.record_part(attempt=attempt, part=part, now=self.clock()))

    def record_upload(
        self, post_id: UUID, attempt: int, part: int, index: int, remote_id: str, expires_at: datetime | None
    ) -> None:
        """A file reached the platform: recorded, so a retry reuses it until it expires."""
        self.posts.change(
            post_id,
            lambda post: post.record_upload(
                attempt=attempt,
                part=part,
                index=index,
                remote_media_id=remote_id,
                expires_at=expires_at,
                now=self.clock(),
            ),
        )

    def record_first_comment(
        self, post_id: UUID, attempt: int, remote_id: str | None, permalink: str | None, observed: Observed | None
    ) -> None:
        """The first comment went, or did not: recorded apart from the post's own outcome."""
        self.posts.change(
            post_id,
            lambda post: post.record_first_comment(
                attempt=attempt, remote_id=remote_id, permalink=permalink, observed=observed, now=self.clock()
            ),
        )

    def abandon_claims(self, claims: Sequence[tuple[UUID, int]], reason: str) -> list[CommandResult]:
        """Claims this dispatcher will not send after all (it is stopping): queued again at once."""
        attempts = dict(claims)
        return self.posts.change_many(
            attempts, lambda post: post.abandon_claim(attempt=attempts[post.id], reason=reason, now=self.clock())
        )

    def hold_many(self, holds: Sequence[tuple[UUID, str, str]], seen_at: datetime) -> list[CommandResult]:
        """Hold queued posts whose account cannot take them now: (post id, reason, detail) each,
        as their accounts were read at `seen_at`."""
        why = {post_id: (reason, detail) for post_id, reason, detail in holds}

        def hold(post: Post) -> None:
            reason, detail = why[post.id]
            post.hold(reason, detail, REMEDIATIONS[reason], now=self.clock(), seen_at=seen_at)

        return self.posts.change_many(why, hold)

    def release_hold(self, post_id: UUID, account: AccountStatus | None) -> bool:
        """Look again at a held post: released, failed at its deadline, or left held (False)."""
        post = self.posts.get(post_id)
        post.release_hold(account, now=self.clock())
        if not post.pending_events:
            return False
        self.posts.save(post)
        return True

    def expire_lease(self, post_id: UUID) -> None:
        self.posts.change(post_id, lambda post: post.expire_lease(now=self.clock()))

    def ambiguous_intent(self, post_id: UUID) -> tuple[str, PublishIntent] | None:
        """(workspace, what the attempt asked) of a post still ambiguous; None once settled."""
        post = self.posts.get(post_id)
        if post.state is not PostState.AMBIGUOUS or post.publish_key is None or post.attention is not None:
            return None
        return post.workspace, post.intent()

    def reconcile(self, post_id: UUID, search: Search) -> None:
        """Decide an ambiguous post on what the reconciler's look found (see `Post.reconcile`)."""
        policy = self.settings.retry_policy
        self.posts.change(post_id, lambda post: post.reconcile(search, policy=policy, now=self.clock()))

    def settle(self, post_id: UUID, *, live: RemotePost | None, actor: str, note: str) -> None:
        """Support's answer for a post the reconciler could not settle."""
        self.posts.change(post_id, lambda post: post.settle(live=live, actor=actor, note=note, now=self.clock()))

    def confirm_delivered(self, post_id: UUID, found: RemotePost, *, evidence: str) -> None:
        self.posts.change(post_id, lambda post: post.confirm_delivered(found, evidence=evidence, now=self.clock()))

    def release_for_retry(self, post_id: UUID, *, evidence: str) -> None:
        self.posts.change(post_id, lambda post: post.release_for_retry(evidence=evidence, now=self.clock()))

    def pass_deadline(self, post_id: UUID) -> None:
        """A queued post past its deadline: failed, or looked for first (see `Post.pass_deadline`)."""
        self.posts.change(post_id, lambda post: post.pass_deadline(now=self.clock()))

    def fail(self, post_id: UUID, reason: str, remediation: str | None = None) -> None:
        remedy = remediation or REMEDIATIONS.get(reason, "See the post's timeline.")
        self.posts.change(post_id, lambda post: post.fail(reason, remedy, now=self.clock()))
