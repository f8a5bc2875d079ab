"""Queues: an account's weekly slot grid, and "put this in the next free slot".

A queued post is an ordinary scheduled post at the slot it was given, and the queue records
that it joined (`Enqueued`), so the queue knows its own posts apart from timed ones. Where
every queued post goes is decided by one pure function, `domain.queue.fill`: the grid's gap
and daily cap, the platform's posting window, and never two of a category back to back while
another choice exists. Two lanes:
- timed posts (an exact time: live commentary) keep their time; when one lands on a queued
  post's slot, the queued posts are pushed to later slots (`make_room`);
- queued posts never move a timed post.
Reordering and shuffling are commands on the queue, recorded as events; the posts they move
are rescheduled in the same transaction, each with its own `Rescheduled` event.
"""

from __future__ import annotations

import logging
import time as monotonic_time
from collections.abc import Callable, Sequence
from datetime import datetime, time, timedelta, tzinfo
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from pydantic import BaseModel

from domain.content import Content, Platform
from domain.errors import ConcurrentChange, HeraldError
from domain.post import Post, PostState
from domain.queue import AccountQueue, Booked, QueueNotFound, SlotGrid, crowded, fill, free_slots, queue_id
from domain.quota import fits
from services.booking import Booking
from services.ports import Clock, EventLog, Seen
from services.posts import PostCommands

Zones = Callable[[str], tzinfo]
HORIZON = timedelta(days=60)
NO_QUEUE_FOR = (
    5.0  # seconds a process without the log's tail trusts "no queue" (a queue set elsewhere is seen this late)
)
log = logging.getLogger("herald.queues")


class Lapsing:
    """`Seen` for a process that does not follow the log's tail: a copy is trusted for
    `seconds` after it was read, whatever happened meanwhile."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def mark(self) -> int:
        return monotonic_time.monotonic_ns()

    def unchanged(self, aggregate_id: UUID, version: int, mark: int | None) -> bool:
        return mark is not None and monotonic_time.monotonic_ns() - mark < self.seconds * 1e9


class QueuedPost(BaseModel):
    post_id: UUID
    category: str | None
    scheduled_at: datetime | None


class QueueView(BaseModel):
    account: str
    zone: str
    slots: list[tuple[int, time]]
    min_gap_seconds: float
    daily_cap: int | None
    next_free: list[datetime]
    waiting: list[QueuedPost] = []


class QueueService:
    def __init__(self, events: EventLog, *, posts: PostCommands, booking: Booking, zones: Zones, clock: Clock) -> None:
        self.events = events
        self.posts = posts
        self.booking = booking
        self.zones = zones
        self.clock = clock
        self._absent: dict[tuple[str, str], int | None] = {}  # accounts seen with no queue, with marks
        self.seen: Seen = Lapsing(NO_QUEUE_FOR)  # an API process's log tail (`Seen`) says it sooner

    def configure(
        self,
        workspace: str,
        account: str,
        *,
        zone: str,
        slots: list[tuple[int, time]],
        min_gap: timedelta = timedelta(0),
        daily_cap: int | None = None,
    ) -> QueueView:
        """Set the account's grid (a new queue, or a change recorded as an event)."""
        self.zones(zone)
        grid = SlotGrid(weekly=tuple(sorted(set(slots))), min_gap=min_gap, daily_cap=daily_cap)
        self._absent.pop((workspace, account), None)
        queue = self._find(workspace, account)
        if queue is None:
            queue = AccountQueue.configure(workspace=workspace, account=account, zone=zone, grid=grid, now=self.clock())
        else:
            queue.reconfigure(zone=zone, grid=grid, now=self.clock())
        self._save(queue)
        return self.view(queue)

    def get(self, workspace: str, account: str) -> QueueView:
        return self.view(self._get(workspace, account))

    def add(
        self,
        workspace: str,
        account: str,
        platform: Platform,
        content: Content,
        *,
        category: str | None = None,
        external_id: str | None = None,
    ) -> UUID:
        """Queue a new post: it joins the end of the queue, in the first slot `fill` gives it
        round every post already booked (those waiting stay put); `NoFreeSlot` within 60 days."""
        queue = self._get(workspace, account)
        slot = self._next_slot(queue, platform, category)
        return self._enqueue(queue, platform, content, slot, category=category, external_id=external_id).id

    def add_before(
        self,
        workspace: str,
        account: str,
        platform: Platform,
        make: Callable[[datetime], tuple[Content, UUID, Sequence[Any]] | None],
        *,
        until: datetime,
        category: str | None,
        external_id: str,
    ) -> UUID | None:
        """Queue a post in the next free slot if it falls before `until`: `make(slot)` gives its
        content, its id and other aggregates to save in the same transaction (the pool that
        recycled it), or None to leave the slot free. None when nothing was queued."""
        queue = self._get(workspace, account)
        slot = self._next_slot(queue, platform, category)
        made = make(slot) if slot < until else None
        if made is None:
            return None
        content, post_id, also = made
        return self._enqueue(
            queue, platform, content, slot, category=category, external_id=external_id, post_id=post_id, also=also
        ).id

    def _enqueue(
        self,
        queue: AccountQueue,
        platform: Platform,
        content: Content,
        slot: datetime,
        *,
        category: str | None,
        external_id: str | None,
        post_id: UUID | None = None,
        also: Sequence[Any] = (),
    ) -> Post:
        post = self.posts.at_slot(
            account=queue.account,
            platform=platform,
            content=content,
            slot=slot,
            external_id=external_id,
            workspace=queue.workspace,
            category=category,
            post_id=post_id,
        )
        queue.enqueue(post.id, category, now=self.clock())
        self._save(queue, post, also=also)
        return post

    def _next_slot(self, queue: AccountQueue, platform: Platform, category: str | None) -> datetime:
        waiting, fixed = self._split(queue)
        booked = [*fixed, *((post.due_at, post.category) for post in waiting if post.due_at is not None)]
        [(_, slot)] = self._fill(queue, platform, [("new", category)], booked)
        return slot

    def preview(
        self, workspace: str, account: str, platform: Platform, items: list[tuple[str, str | None]]
    ) -> dict[str, datetime]:
        """{item: slot}: where these posts (id, category) would go if queued now, in this
        order, round everything already booked; writes nothing (the dry run's answer)."""
        queue = self._get(workspace, account)
        waiting, fixed = self._split(queue)
        booked = [*fixed, *((post.due_at, post.category) for post in waiting if post.due_at is not None)]
        return dict(self._fill(queue, platform, items, booked))

    def make_room(self, workspace: str, account: str) -> None:
        """A timed post was booked on the account: push queued posts it now crowds to later
        slots. The timed post stands whatever happens here; a queue that cannot make room
        (no free slot, a concurrent change) is logged and left as it was."""
        asked = (workspace, account)
        if asked in self._absent and self.seen.unchanged(queue_id(*asked), 0, self._absent[asked]):
            return  # no queue when last looked, and none made since (as far as `seen` can tell)
        mark = self.seen.mark()
        queue = self._find(workspace, account)
        if queue is None:
            if len(self._absent) > 10_000:
                self._absent.clear()
            self._absent[asked] = mark
            return
        try:
            waiting, fixed = self._split(queue)
            at = {str(post.id): post.due_at for post in waiting if post.due_at is not None}
            pushed = set(crowded(queue.grid, self.zones(queue.zone), list(at.items()), [due for due, _ in fixed]))
            if pushed:
                stay = [(at[str(p.id)], p.category) for p in waiting if str(p.id) in at and str(p.id) not in pushed]
                self._settle(queue, "a timed post took the room", [p for p in waiting if str(p.id) in pushed], stay)
        except HeraldError as trouble:
            log.warning("queue of %s/%s left as it was: %s", workspace, account, trouble)

    def reorder(self, workspace: str, account: str, order: Sequence[UUID], *, actor: str) -> QueueView:
        """Put the queue's waiting posts in `order` (each named once); their slots follow it."""
        queue = self._get(workspace, account)
        waiting, _ = self._split(queue)
        queue.reorder(order, [post.id for post in waiting], actor=actor, now=self.clock())
        return self._settle(queue, f"reordered by {actor}")

    def shuffle(self, workspace: str, account: str, seed: int, *, actor: str) -> QueueView:
        """Shuffle the queue's waiting posts (the same seed gives the same order)."""
        queue = self._get(workspace, account)
        waiting, _ = self._split(queue)
        queue.shuffle([post.id for post in waiting], seed, actor=actor, now=self.clock())
        return self._settle(queue, f"shuffled by {actor} (seed {seed})")

    def view(self, queue: AccountQueue) -> QueueView:
        zone, now = self.zones(queue.zone), self.clock()
        book = list(self.booking.book_of(queue.workspace, queue.account, now - timedelta(days=1)).values())
        upcoming = free_slots(queue.grid, zone, book, after=now, horizon=HORIZON)
        waiting, _ = self._split(queue)
        return QueueView(
            account=queue.account,
            zone=queue.zone,
            slots=list(queue.grid.weekly),
            min_gap_seconds=queue.grid.min_gap.total_seconds(),
            daily_cap=queue.grid.daily_cap,
            next_free=[slot for slot, _ in zip(upcoming, range(5), strict=False)],
            waiting=[QueuedPost(post_id=p.id, category=p.category, scheduled_at=p.due_at) for p in waiting],
        )

    # ── helpers ───────────────────────────────────────────────────────────────

    def _settle(
        self, queue: AccountQueue, reason: str, posts: list[Post] | None = None, stay: list[Booked] | None = None
    ) -> QueueView:
        """Place `posts` (every waiting post, in the queue's order, by default) afresh round the
        rest; reschedule those whose slot changed, in one transaction with the queue's events."""
        waiting, fixed = self._split(queue)
        posts = waiting if posts is None else posts
        moved: list[Post] = []
        if posts:
            items = [(str(post.id), post.category) for post in posts]
            placed = dict(self._fill(queue, posts[0].platform, items, [*fixed, *(stay or [])]))
            moved = self._move(queue, posts, placed, reason=reason)
        self._save(queue, *moved)
        return self.view(queue)

    def _split(self, queue: AccountQueue) -> tuple[list[Post], list[Booked]]:
        """(the queue's posts still waiting, in its order; every other post booked on the
        account, with its category). A queued post inside its freeze window no longer moves:
        it counts as booked."""
        now = self.clock()
        book = self.booking.book_of(queue.workspace, queue.account, now - timedelta(days=1))
        known = self.events.get_many(list(dict.fromkeys([*queue.order, *book])))
        posts = {post_id: post for post_id, post in known.items() if isinstance(post, Post)}
        waiting = [
            post
            for post_id in dict.fromkeys(queue.order)
            if (post := posts.get(post_id)) is not None
            and post.state is PostState.QUEUED
            and post.due_at is not None
            and now < post.due_at - post.freeze
        ]
        ours = {post.id for post in waiting}
        fixed = [
            (due, getattr(posts.get(post_id), "category", None)) for post_id, due in book.items() if post_id not in ours
        ]
        return waiting, fixed

    def _fill(
        self, queue: AccountQueue, platform: Platform, items: list[tuple[str, str | None]], fixed: list[Booked]
    ) -> list[tuple[str, datetime]]:
        quota = self.booking.quota_of(queue.workspace, queue.account, platform)
        return fill(
            queue.grid,
            self.zones(queue.zone),
            items,
            fixed,
            after=self.clock(),
            horizon=HORIZON,
            allowed=lambda slot, taken: fits(slot, list(taken), quota),
        )

    def _move(
        self, queue: AccountQueue, waiting: list[Post], placed: dict[str, datetime], *, reason: str
    ) -> list[Post]:
        """Reschedule each waiting post whose slot changed; the queue records the moves."""
        now, moved = self.clock(), []
        for post in waiting:
            slot = placed[str(post.id)]
            if slot != post.due_at:
                post.reschedule(slot, now=now, reason=f"the queue moved it: {reason}")
                moved.append(post)
        queue.record_moves([(post.id, placed[str(post.id)]) for post in moved], reason, now=now)
        return moved

    def _save(self, queue: AccountQueue, *posts: Post, also: Sequence[Any] = ()) -> None:
        try:
            self.events.save(queue, *posts, *also)
        except IntegrityError:
            raise ConcurrentChange(
                f"{queue.account}'s queue was changed at the same moment; read it and retry"
            ) from None
        for post in posts:
            self.booking.remember(queue.workspace, queue.account, post.id, post.due_at)

    def _get(self, workspace: str, account: str) -> AccountQueue:
        queue = self._find(workspace, account)
        if queue is None:
            raise QueueNotFound(f"{account} has no queue: give it slots first")
        return queue

    def _find(self, workspace: str, account: str) -> AccountQueue | None:
        try:
            queue = self.events.get(queue_id(workspace, account))
        except AggregateNotFoundError:
            return None
        return queue if isinstance(queue, AccountQueue) else None
