"""Post commands: what a domain service asks of a post before it is claimed.

Each command is get → change → save. Scheduling checks the content against the platform's
rules and the account's posting window first; a refusal is raised before anything is saved.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.persistence import IntegrityError

from domain.content import Content, Platform
from domain.errors import ConcurrentChange, VersionMismatch
from domain.instants import require_due
from domain.post import Post, PostState
from services.booking import Booking, WhenFull
from services.content_rules import ContentRules
from services.ports import Clock
from services.post_repository import PostRepository
from services.results import EventRecord, PostSettings, PostView

Resolve = Callable[[str, Content], Content]  # the library's kind and alt text for each media reference


class PostCommands:
    def __init__(
        self,
        posts: PostRepository,
        *,
        booking: Booking,
        rules: ContentRules,
        clock: Clock,
        settings: PostSettings,
        media: Resolve | None = None,
    ) -> None:
        self.posts = posts
        self.booking = booking
        self.rules = rules
        self.clock = clock
        self.settings = settings
        self.media = media
        # told when a timed post is booked on an account, so its queue makes room (set by the
        # bootstrap: the queue service, which depends on this one)
        self.booked: Callable[[str, str], None] = lambda workspace, account: None
        # whether a workspace's posts wait for approval by default (set by the bootstrap)
        self.workspace_approval: Callable[[str], bool] = lambda workspace: False

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
        post = self.new_post(account, platform, content, external_id, workspace, post_id)
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
        category: str | None = None,
    ) -> UUID:
        """A new post, queued to go out at `scheduled_at` (which must carry a zone).

        If the account's posting window is full then, it is refused with the next free
        instant, or moved to that instant when `when_full="move"`.
        """
        post = self.new_post(account, platform, content, external_id, workspace, post_id, category=category)
        own = self._checked(post)
        due = self._fit(post, require_due(scheduled_at), when_full, own)
        self._queue(post, due, now=self.clock(), settings=own)
        self._save(post)
        self.booked(workspace, account)
        return post.id

    def at_slot(
        self,
        *,
        account: str,
        platform: Platform | str,
        content: Content,
        slot: datetime,
        external_id: str | None,
        workspace: str,
        category: str | None,
        post_id: UUID | None = None,
    ) -> Post:
        """A new post queued for a queue's slot, checked but not saved: the queue saves it with
        its own event. The slot already keeps the posting window."""
        post = self.new_post(account, platform, content, external_id, workspace, post_id, category=category)
        self._queue(post, require_due(slot), now=self.clock(), settings=self._checked(post))
        return post

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
        post = self.new_post(account, platform, content, external_id, workspace, post_id)
        own = self._checked(post)
        now = self.clock()
        due = self._fit(post, now, when_full, own)
        self._queue(post, due, now=now, publish_now=due == now, settings=own)
        self._save(post)
        return post.id

    def schedule_many(self, requests: Sequence[dict[str, Any]], also: Sequence[Any] = ()) -> list[UUID]:
        """Many new queued posts in one transaction (each dict: schedule's keyword arguments),
        with `also`: other new aggregates saved in the same transaction (the plan they make)."""
        drafted = []
        for request in requests:
            fields = dict(request)
            post = self.new_post(
                fields["account"],
                fields["platform"],
                fields["content"],
                fields.get("external_id"),
                fields.get("workspace", "default"),
                fields.get("post_id"),
                category=fields.get("category"),
            )
            drafted.append((post, fields.get("scheduled_at")))
        # the batch's accounts read once, together: their limits and their approval settings
        settings = self.rules.settings_of_many((post.workspace, post.account) for post, _ in drafted)
        posts = []
        for post, due in drafted:
            own = self._checked(post, settings.get((post.workspace, post.account), {}))
            now = self.clock()  # after the draft's own instant: a post's events never go back in time
            self._queue(post, due or now, now=now, publish_now=due is None, settings=own)
            posts.append(post)
        self.posts.save_new(posts, also=also)
        for workspace, account in dict.fromkeys((post.workspace, post.account) for post in posts):
            self.booked(workspace, account)
        return [post.id for post in posts]

    def schedule_draft(self, post_id: UUID, scheduled_at: datetime, when_full: WhenFull = "refuse") -> None:
        """Queue a draft for `scheduled_at`, checked as a new scheduled post is."""
        post = self.posts.get(post_id)
        own = self._checked(post)
        due = require_due(scheduled_at)
        due = self._fit(post, due, when_full, own) if due >= self.clock() else due
        self._queue(post, due, now=self.clock(), settings=own)
        self._save(post)
        self.booked(post.workspace, post.account)

    def check_content(self, platform: Platform, content: Content, workspace: str, account: str) -> None:
        """Refuse content the platform would not take, as scheduling it would (media completed
        from the library first)."""
        resolved = self.media(workspace, content) if self.media is not None else content
        self.rules.check(platform, resolved, workspace, account)

    def redrive(self, post_id: UUID, *, actor: str, scheduled_at: datetime | None = None) -> UUID:
        """Send a failed post again: a new post with the same content, account and platform, its
        own publish key, now or at `scheduled_at`; the failed post links to it and it to the
        failed one, in one transaction (so a post is never redriven twice). Refused unless the
        post is `failed`, which the invariant makes proof that it is not live."""
        original = self.posts.get(post_id)
        new = self.new_post(
            original.account,
            original.platform,
            original.content,
            original.external_id,
            original.workspace,
            None,
            redrive_of=original.id,
        )
        original.redrive(new.id, actor=actor, now=self.clock())
        own = self._checked(new)
        now = self.clock()
        if scheduled_at is None:
            self._queue(new, now, now=now, publish_now=True, settings=own)
        else:
            self._queue(new, self._fit(new, require_due(scheduled_at), "refuse", own), now=now, settings=own)
        try:
            self.posts.save_new([new, original])
        except IntegrityError:
            raise ConcurrentChange(f"post {post_id} was changed at the same moment; read it and retry") from None
        self.booking.remember(new.workspace, new.account, new.id, new.due_at)
        return new.id

    # ── changing ──────────────────────────────────────────────────────────────

    def edit_content(self, post_id: UUID, content: Content) -> None:
        self.revise(post_id, expected_version=None, content=content)

    def reschedule(self, post_id: UUID, scheduled_at: datetime, when_full: WhenFull = "refuse") -> None:
        self.revise(post_id, expected_version=None, scheduled_at=scheduled_at, when_full=when_full)

    def revise(
        self,
        post_id: UUID,
        *,
        expected_version: int | None,
        content: Content | None = None,
        scheduled_at: datetime | None = None,
        when_full: WhenFull = "refuse",
    ) -> PostView:
        """Edit and/or reschedule in one save, if the post is still at `expected_version`."""
        post = self.posts.get(post_id)
        if expected_version is not None and post.version != expected_version:
            raise VersionMismatch(f"the post is at version {post.version}, not {expected_version}; read it again")
        now = self.clock()
        own = None  # the account's settings, once read: the content's check and the window share them
        if content is not None:
            content = self.media(post.workspace, content) if self.media else content
            if post.state is not PostState.DRAFT:
                own = self._checked(post, content=content)
            post.edit_content(content, now=now)
        if scheduled_at is not None:
            due = require_due(scheduled_at)
            post.reschedule(self._fit(post, due, when_full, own) if due >= now else due, now=now)
        try:
            self._save(post)
        except ConcurrentChange:  # another revision landed between our read and our write
            if expected_version is None:
                raise
            raise VersionMismatch(f"the post changed after version {expected_version}; read it again") from None
        if scheduled_at is not None:
            self.booked(post.workspace, post.account)
        return PostView.of(post)

    def cancel(self, post_id: UUID, reason: str = "canceled by request") -> PostView:
        post = self.posts.change(post_id, lambda post: post.cancel(now=self.clock(), reason=reason))
        return PostView.of(post)

    # ── reading ───────────────────────────────────────────────────────────────

    def get_post(self, post_id: UUID) -> PostView:
        return PostView.of(self.posts.get(post_id))

    def saved_view(self, post_id: UUID) -> PostView:
        """The view of a post this process has just saved, from the copy it kept, without
        reading it back; read when no copy is kept."""
        kept = self.posts.kept.peek(post_id)
        return PostView.of(kept) if kept is not None else self.get_post(post_id)

    def view_at(self, post_id: UUID, version: int) -> PostView:
        """The post as it stood at `version` (an answer given then, given again)."""
        return PostView.of(self.posts.get(post_id, version))

    def history(self, post_id: UUID) -> list[EventRecord]:
        return self.posts.history(post_id)

    # ── helpers ───────────────────────────────────────────────────────────────

    def new_post(
        self,
        account: str,
        platform: Platform | str,
        content: Content,
        external_id: str | None,
        workspace: str,
        post_id: UUID | None,
        redrive_of: UUID | None = None,
        category: str | None = None,
    ) -> Post:
        """A draft, not yet saved (its media references completed from the library)."""
        if self.media is not None:
            content = self.media(workspace, content)
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
            redrive_of=redrive_of,
            category=category,
        )

    def approve(self, post_id: UUID, *, actor: str, comment: str = "") -> PostView:
        """An approver lets a post that waits for approval go: queued for the time asked."""
        post = self.posts.change(post_id, lambda p: p.approve(actor=actor, comment=comment, now=self.clock()))
        self.booking.remember(post.workspace, post.account, post.id, post.due_at)
        self.booked(post.workspace, post.account)
        return PostView.of(post)

    def reject(self, post_id: UUID, *, actor: str, comment: str) -> PostView:
        """An approver sends a post that waits for approval back to draft, saying why."""
        post = self.posts.change(post_id, lambda p: p.reject(actor=actor, comment=comment, now=self.clock()))
        return PostView.of(post)

    def _checked(
        self, post: Post, settings: dict[str, Any] | None = None, content: Content | None = None
    ) -> dict[str, Any]:
        """Refuse content the platform would not take (the post's, or `content` it is about to
        take); the account's settings, given or read here once, are returned for the window and
        the approval to use too."""
        own = self.rules.settings_of(post.workspace, post.account) if settings is None else settings
        checked = post.content if content is None else content
        self.rules.check(post.platform, checked, post.workspace, post.account, settings=own)
        return own

    def _queue(
        self, post: Post, due: datetime, *, now: datetime, settings: dict[str, Any], publish_now: bool = False
    ) -> None:
        """Queue the draft, or, on an account whose posts need approval (its `approval` setting,
        in `settings`, else the workspace's), ask for it."""
        if self.needs_approval(post.workspace, post.account, settings=settings):
            post.request_approval(due, now=now, publish_now=publish_now)
        else:
            post.schedule(due, now=now, publish_now=publish_now)

    def needs_approval(self, workspace: str, account: str, settings: dict[str, Any] | None = None) -> bool:
        """The account's own `approval` setting where it has one (in `settings`, when they are
        already read), else the workspace's default."""
        own = (self.rules.settings_of(workspace, account) if settings is None else settings).get("approval")
        return bool(own) if own is not None else self.workspace_approval(workspace)

    def _fit(self, post: Post, due: datetime, when_full: WhenFull, settings: dict[str, Any] | None = None) -> datetime:
        return self.booking.fit(post.workspace, post.account, post.platform, due, when_full, settings)

    def _save(self, post: Post) -> None:
        self.posts.save(post)
        self.booking.remember(post.workspace, post.account, post.id, post.due_at)
