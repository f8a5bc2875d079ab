"""Queues: an account's weekly slot grid, and "put this in the next free slot".

A queued post is an ordinary scheduled post at the slot it was given; posts given an exact
time keep it, and the queue places round them. The next free slot keeps the grid's gap and
daily cap, the platform's posting window, and, where another free slot allows it, never
follows a post of the same category on the account.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, timedelta, tzinfo
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from pydantic import BaseModel

from domain.content import Content, Platform
from domain.errors import ConcurrentChange
from domain.queue import AccountQueue, NoFreeSlot, QueueNotFound, SlotGrid, free_slots, queue_id
from domain.quota import QuotaExceeded
from services.booking import Booking
from services.ports import Clock, EventLog
from services.posts import PostCommands

Zones = Callable[[str], tzinfo]
HORIZON = timedelta(days=60)


class QueueView(BaseModel):
    account: str
    zone: str
    slots: list[tuple[int, time]]
    min_gap_seconds: float
    daily_cap: int | None
    next_free: list[datetime]


class QueueService:
    def __init__(self, events: EventLog, *, posts: PostCommands, booking: Booking, zones: Zones, clock: Clock) -> None:
        self.events = events
        self.posts = posts
        self.booking = booking
        self.zones = zones
        self.clock = clock

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
        queue = self._find(workspace, account)
        if queue is None:
            queue = AccountQueue.configure(workspace=workspace, account=account, zone=zone, grid=grid, now=self.clock())
        else:
            queue.reconfigure(zone=zone, grid=grid, now=self.clock())
        try:
            self.events.save(queue)
        except IntegrityError:
            raise ConcurrentChange(f"{account}'s queue was changed at the same moment; read it and retry") from None
        return self._view(queue)

    def get(self, workspace: str, account: str) -> QueueView:
        return self._view(self._get(workspace, account))

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
        """Schedule the post at the account's next free slot; `NoFreeSlot` within 60 days."""
        queue = self._get(workspace, account)
        zone, now = self.zones(queue.zone), self.clock()
        book = self.booking.book_of(workspace, account, now - timedelta(days=1))
        found = self.events.get_many(list(book)) if category is not None else {}
        categories = {due: getattr(found.get(post_id), "category", None) for post_id, due in book.items()}
        fallback: datetime | None = None
        for slot in free_slots(queue.grid, zone, list(book.values()), after=now, horizon=HORIZON):
            before = max((due for due in categories if due < slot), default=None)
            if category is not None and before is not None and categories[before] == category:
                fallback = fallback or slot  # back to back with its own category: only if nothing else
                continue
            try:
                return self._schedule(workspace, account, platform, content, slot, category, external_id)
            except QuotaExceeded:
                continue  # the platform's posting window is full then: the next slot
        if fallback is not None:
            return self._schedule(workspace, account, platform, content, fallback, category, external_id)
        raise NoFreeSlot(f"{account} has no free slot in the next {HORIZON.days} days; widen its grid or its cap")

    def _schedule(
        self,
        workspace: str,
        account: str,
        platform: Platform,
        content: Content,
        slot: datetime,
        category: str | None,
        external_id: str | None,
    ) -> UUID:
        return self.posts.schedule(
            account=account,
            platform=platform,
            content=content,
            scheduled_at=slot,
            external_id=external_id,
            workspace=workspace,
            category=category,
        )

    def _view(self, queue: AccountQueue) -> QueueView:
        zone, now = self.zones(queue.zone), self.clock()
        book = list(self.booking.book_of(queue.workspace, queue.account, now - timedelta(days=1)).values())
        upcoming = free_slots(queue.grid, zone, book, after=now, horizon=HORIZON)
        return QueueView(
            account=queue.account,
            zone=queue.zone,
            slots=list(queue.grid.weekly),
            min_gap_seconds=queue.grid.min_gap.total_seconds(),
            daily_cap=queue.grid.daily_cap,
            next_free=[slot for slot, _ in zip(upcoming, range(5), strict=False)],
        )

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
