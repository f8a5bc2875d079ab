"""The command service: every change to a post goes through one of these intent-named methods.

Each command is get → change → save. The claim is an event appended at the post's next
version; when two workers race, the store's unique (originator_id, version) rejects one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Literal
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError

from domain.content import Content, Platform
from domain.decisions import REMEDIATIONS, jitter_seed
from domain.errors import ConcurrentChange, HeraldError, PostNotFound, VersionMismatch
from domain.instants import require_utc
from domain.outcomes import Observed, RemotePost
from domain.post import Post, PostState
from domain.quota import Quota, QuotaExceeded, fits, next_free, quota_for
from domain.validation import Rules, check, rules_for, validate
from services.kept_posts import KeptPosts
from services.results import CommandResult, EventRecord, OutcomeReport, PostSettings, PostView

Clock = Callable[[], datetime]
Booked = Callable[[str, str, datetime], dict[UUID, datetime]]
SettingsOf = Callable[[Iterable[tuple[str, str]]], dict[tuple[str, str], dict[str, Any]]]
RECENT_FOR = 5.0  # seconds this process remembers its own bookings, covering the due index's lag
WhenFull = Literal["refuse", "move"]


def system_clock() -> datetime:
    return datetime.now(UTC)


class PostService(Application[UUID]):
    """Herald's posts: drafting, scheduling, editing, claiming and recording outcomes."""

    name = "herald"

    def __init__(
        self,
        env: dict[str, str] | None = None,
        *,
        clock: Clock = system_clock,
        settings: PostSettings | None = None,
    ) -> None:
        super().__init__(env)
        self.clock = clock
        self.settings = settings or PostSettings()
        self.store_env: dict[str, str] = dict(env or {})
        # (workspace, account, from) → {post id: due} already booked for the account; set by bootstrap
        self.booked: Booked | None = None
        # what this process booked lately, which the (lagging) due index may not show yet
        self._recent: dict[tuple[str, str], dict[UUID, tuple[datetime, float]]] = {}
        # {(workspace, account)} → each known account's settings (e.g. Mastodon's max_characters)
        self.account_settings: SettingsOf | None = None
        self.closers: list[Callable[[], None]] = []  # what the wiring opened for this service
        # ids → their stored events, in one query (set by bootstrap); else one read per post
        self.read_many: Callable[[Sequence[UUID]], dict[UUID, list[Any]]] | None = None
        self.kept = KeptPosts()  # posts this process saved lately, to change again without a read

    def close(self) -> None:
        """Close the store's connections, and whatever the wiring opened alongside."""
        while self.closers:
            self.closers.pop()()
        super().close()

    # ── creating ──────────────────────────────────────────────────────────────

    def draft(
        self,
        *,
        account: str,
        platform: Platform | str,
        content: Content,
        external_id: str | None = None,
        workspace: str = "default",
        post_id: UUID | None = None,
    ) -> UUID:
        """A new draft post; it goes nowhere until scheduled."""
        post = self._new_post(account, platform, content, external_id, workspace, post_id)
        self._save(post)
        return post.id

    def schedule(
        self,
        *,
        account: str,
        platform: Platform | str,
        content: Content,
        scheduled_at: datetime,
        external_id: str | None = None,
        workspace: str = "default",
        post_id: UUID | None = None,
        when_full: WhenFull = "refuse",
    ) -> UUID:
        """A new post, queued to go out at `scheduled_at` (which must carry a zone).

        If the account's posting window is full then, it is refused with the next free
        instant, or moved to that instant when `when_full="move"`.
        """
        post = self._new_post(account, platform, content, external_id, workspace, post_id)
        self.check_content(post.platform, content, workspace, account)
        post.schedule(self._fit(post, require_utc(scheduled_at, field="scheduled_at"), when_full), now=self.clock())
        self._save(post)
        return post.id

    def publish_now(
        self,
        *,
        account: str,
        platform: Platform | str,
        content: Content,
        external_id: str | None = None,
        workspace: str = "default",
        post_id: UUID | None = None,
        when_full: WhenFull = "refuse",
    ) -> UUID:
        """A new post, due immediately (or at the next free instant, with `when_full="move"`)."""
        post = self._new_post(account, platform, content, external_id, workspace, post_id)
        self.check_content(post.platform, content, workspace, account)
        now = self.clock()
        due = self._fit(post, now, when_full)
        if due == now:
            post.schedule(now, now=now, publish_now=True)
        else:
            post.schedule(due, now=now)
        self._save(post)
        return post.id

    def schedule_many(self, requests: Sequence[dict[str, Any]]) -> list[UUID]:
        """Many new queued posts in one transaction (each dict: schedule's keyword arguments)."""
        now = self.clock()
        posts = []
        for request in requests:
            fields = dict(request)
            due = fields.pop("scheduled_at", None)
            post = self._new_post(
                fields["account"],
                fields["platform"],
                fields["content"],
                fields.get("external_id"),
                fields.get("workspace", "default"),
                fields.get("post_id"),
            )
            self.check_content(post.platform, post.content, post.workspace, post.account)
            post.schedule(due or now, now=now, publish_now=due is None)
            posts.append(post)
        self.save(*posts)
        return [post.id for post in posts]

    def schedule_draft(self, post_id: UUID, scheduled_at: datetime) -> None:
        post = self._get(post_id)
        self.check_content(post.platform, post.content, post.workspace, post.account)
        post.schedule(scheduled_at, now=self.clock())
        self._save(post)

    # ── changing ──────────────────────────────────────────────────────────────

    def edit_content(self, post_id: UUID, content: Content) -> None:
        post = self._get(post_id)
        if post.state is not PostState.DRAFT:
            self.check_content(post.platform, content, post.workspace, post.account)
        post.edit_content(content, now=self.clock())
        self._save(post)

    def reschedule(self, post_id: UUID, scheduled_at: datetime, when_full: WhenFull = "refuse") -> None:
        post = self._get(post_id)
        due = require_utc(scheduled_at, field="scheduled_at")
        post.reschedule(self._fit(post, due, when_full) if due >= self.clock() else due, now=self.clock())
        self._save(post)

    def revise(
        self,
        post_id: UUID,
        *,
        expected_version: int | None,
        content: Content | None = None,
        scheduled_at: datetime | None = None,
        when_full: WhenFull = "refuse",
    ) -> None:
        """Edit and/or reschedule in one save, if the post is still at `expected_version`."""
        post = self._get(post_id)
        if expected_version is not None and post.version != expected_version:
            raise VersionMismatch(f"the post is at version {post.version}, not {expected_version}; read it again")
        now = self.clock()
        if content is not None:
            if post.state is not PostState.DRAFT:
                self.check_content(post.platform, content, post.workspace, post.account)
            post.edit_content(content, now=now)
        if scheduled_at is not None:
            due = require_utc(scheduled_at, field="scheduled_at")
            post.reschedule(self._fit(post, due, when_full) if due >= now else due, now=now)
        self._save(post)

    def cancel(self, post_id: UUID, reason: str = "canceled by request") -> None:
        post = self._get(post_id)
        post.cancel(now=self.clock(), reason=reason)
        self._save(post)

    # ── dispatching ───────────────────────────────────────────────────────────

    def claim(self, post_id: UUID, *, worker: str) -> CommandResult:
        """Claim one due post for `worker`; a lost race is a refusal, not an exception."""
        return self.claim_many([post_id], worker=worker)[0]

    def claim_many(self, post_ids: Iterable[UUID], *, worker: str) -> list[CommandResult]:
        """Claim many due posts in one transaction; posts that conflict are refused alone."""
        now = self.clock()
        lease = self.settings.lease
        settings: dict[tuple[str, str], dict[str, Any]] = {}

        def read_settings(posts: Iterable[Post]) -> None:  # the batch's accounts, in one query
            if self.account_settings is not None:
                pairs = {(post.workspace, post.account) for post in posts}
                found = self.account_settings(pairs)
                settings.update({pair: found.get(pair, {}) for pair in pairs})

        def claim(post: Post) -> None:
            own = settings.get((post.workspace, post.account))  # None: not read with the batch
            problems = validate(post.content, self.rules_for(post.platform, post.workspace, post.account, own))
            if problems and post.state is PostState.QUEUED:
                # checked again before dispatch: a rejection is final, never a retry
                post.fail("content_rejected", "; ".join(p.message for p in problems), now=now)
                return
            post.claim(worker=worker, lease=lease, now=now)

        return self._change_many(post_ids, claim, before=read_settings)

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

        return self._change_many(by_id, record)

    def prepare_container(self, post_id: UUID, attempt: int, container_id: str) -> None:
        post = self._get(post_id)
        post.prepare_container(attempt=attempt, container_id=container_id, now=self.clock())
        self._save(post)

    def expire_lease(self, post_id: UUID) -> None:
        post = self._get(post_id)
        post.expire_lease(now=self.clock())
        self._save(post)

    def confirm_delivered(self, post_id: UUID, found: RemotePost, *, evidence: str) -> None:
        post = self._get(post_id)
        post.confirm_delivered(found, evidence=evidence, now=self.clock())
        self._save(post)

    def release_for_retry(self, post_id: UUID, *, evidence: str) -> None:
        post = self._get(post_id)
        post.release_for_retry(evidence=evidence, now=self.clock())
        self._save(post)

    def fail(self, post_id: UUID, reason: str, remediation: str | None = None) -> None:
        post = self._get(post_id)
        remedy = remediation or REMEDIATIONS.get(reason, "See the post's timeline.")
        post.fail(reason, remedy, now=self.clock())
        self._save(post)

    # ── content rules ─────────────────────────────────────────────────────────

    def rules_for(
        self, platform: Platform, workspace: str = "default", account: str = "", settings: dict[str, Any] | None = None
    ) -> Rules:
        """The platform's content rules, with the account's own limits (a Mastodon instance's)."""
        limit = (self.settings_of(workspace, account) if settings is None else settings).get("max_characters")
        return rules_for(platform, max_characters=int(limit) if limit else None)

    def settings_of(self, workspace: str, account: str) -> dict[str, Any]:
        if self.account_settings is None or not account:
            return {}
        return self.account_settings([(workspace, account)]).get((workspace, account), {})

    def check_content(
        self, platform: Platform, content: Content, workspace: str = "default", account: str = ""
    ) -> None:
        check(content, self.rules_for(platform, workspace, account))

    def book_of(self, workspace: str, account: str, since: datetime) -> dict[UUID, datetime]:
        """{post id: due} of the account's booked posts: the due index's, and this process's own
        latest bookings (which the index may not have folded yet)."""
        book = dict(self.booked(workspace, account, since)) if self.booked else {}
        horizon = time.monotonic() - RECENT_FOR
        recent = self._recent.get((workspace, account), {})
        for post_id, (due, at) in list(recent.items()):
            if at < horizon:
                del recent[post_id]
            elif due >= since:
                book.setdefault(post_id, due)
        return book

    def _remember_booking(self, post: Post) -> None:
        if post.due_at is not None and self.booked is not None:
            self._recent.setdefault((post.workspace, post.account), {})[post.id] = (post.due_at, time.monotonic())

    def quota_of(self, workspace: str, account: str, platform: Platform) -> Quota:
        """The account's posting window: the platform's, or the account's own limit."""
        limit = None
        limit = self.settings_of(workspace, account).get("quota_limit")
        return quota_for(platform, int(limit) if limit else None)

    def _fit(self, post: Post, due: datetime, when_full: WhenFull) -> datetime:
        """`due`, if the account's posting window has room then; else refuse, or move."""
        if self.booked is None:
            return due
        quota = self.quota_of(post.workspace, post.account, post.platform)
        book = list(self.book_of(post.workspace, post.account, due - quota.window).values())
        if fits(due, book, quota):
            return due
        free = next_free(due, book, quota)
        if when_full == "move":
            return free
        raise QuotaExceeded(
            f"{post.account} already has {quota.limit} posts on {post.platform.value} within "
            f"{quota.window} of {due.isoformat()}; the next free instant is {free.isoformat()} "
            "(ask to move the post there with when_full=move)",
            free,
        )

    # ── queries ───────────────────────────────────────────────────────────────

    def get_post(self, post_id: UUID) -> PostView:
        return PostView.of(self._get(post_id))

    def history(self, post_id: UUID) -> list[EventRecord]:
        """Every event of the post, oldest first, as support reads them."""
        records = [EventRecord.of(event) for event in self.events.get(post_id)]
        if not records:
            raise PostNotFound(f"no post with id {post_id}")
        return records

    # ── helpers ───────────────────────────────────────────────────────────────

    def _new_post(
        self,
        account: str,
        platform: Platform | str,
        content: Content,
        external_id: str | None,
        workspace: str,
        post_id: UUID | None,
    ) -> Post:
        return Post.draft(
            post_id=post_id or uuid4(),
            workspace=workspace,
            account=account,
            platform=Platform(platform),
            content=content,
            external_id=external_id,
            grace=self.settings.grace,
            freeze=self.settings.freeze,
            now=self.clock(),
        )

    def _get(self, post_id: UUID) -> Post:
        try:
            post: Post = self.repository.get(post_id)
        except AggregateNotFoundError:
            raise PostNotFound(f"no post with id {post_id}") from None
        return post

    def _get_many(self, ids: Sequence[UUID]) -> dict[UUID, Post]:
        """Many posts, folded from one query's events when the wiring offers it."""
        if self.read_many is None or len(ids) < 2:
            return {}
        posts: dict[UUID, Post] = {}
        for post_id, stored in self.read_many(ids).items():
            post = None
            for record in stored:
                post = self.mapper.to_domain_event(record).mutate(post)
            if isinstance(post, Post):
                posts[post_id] = post
        return posts

    def _save(self, post: Post) -> None:
        try:
            self.save(post)
            self.kept.keep([post])
            self._remember_booking(post)
        except IntegrityError:
            raise ConcurrentChange(
                f"post {post.id} was changed by someone else at the same moment; read it and retry"
            ) from None

    def _change_many(
        self,
        post_ids: Iterable[UUID],
        change: Callable[[Post], Any],
        before: Callable[[Iterable[Post]], None] | None = None,
    ) -> list[CommandResult]:
        """Apply `change` to each post and save all in one transaction (`before` sees the batch
        first). Posts this process saved lately start from where it left them (`KeptPosts`).

        A guard's refusal or a lost race concerns one post only: if the batch conflicts,
        each post is saved on its own so the others still succeed; a kept post that turns out
        stale is read afresh and changed again.
        """
        results: dict[UUID, CommandResult] = {}
        pending: dict[UUID, tuple[Post, list[Any]]] = {}
        ids = list(dict.fromkeys(post_ids))
        kept = self.kept.take(ids)
        loaded = kept | self._get_many([post_id for post_id in ids if post_id not in kept])
        if before is not None:
            before(loaded.values())

        def changed(post_id: UUID, post: Post | None) -> None:
            try:
                post = post or self._get(post_id)
                change(post)
            except HeraldError as refusal:
                if post is not None and post is kept.get(post_id):  # maybe stale: decide on the stored post
                    changed(post_id, None)
                else:
                    results[post_id] = CommandResult.refused(post_id, refusal)
                return
            pending[post_id] = (post, list(post.collect_events()))
            results[post_id] = CommandResult.done(post_id, post, view=PostView.of(post))

        for post_id in ids:
            changed(post_id, loaded.get(post_id))
        if not pending:
            return list(results.values())
        try:
            self.save(*(event for _, events in pending.values() for event in events))
            self.kept.keep(post for post, _ in pending.values())
        except IntegrityError:
            for post_id, (post, events) in list(pending.items()):
                if self._saved_alone(post, events):
                    continue
                if post_id in kept:  # stale: someone appended since this process saved it
                    del pending[post_id]
                    changed(post_id, None)
                    if post_id not in pending:
                        continue  # refused on the stored post: that refusal is the answer
                    if self._saved_alone(*pending[post_id]):
                        continue
                results[post_id] = CommandResult.lost_race(post_id)
        return list(results.values())

    def _saved_alone(self, post: Post, events: list[Any]) -> bool:
        try:
            self.save(*events)
        except IntegrityError:
            return False
        self.kept.keep([post])
        return True
