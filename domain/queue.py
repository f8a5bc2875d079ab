"""Queue slots: where "put this in the account's next free slot" lands.

An account's grid is a weekly set of local times in its zone (Mon-Fri 09:00, 12:30, 17:00),
a minimum gap between its posts, and a daily cap. A post goes to the first slot at or after
a given instant that keeps the gap to every post already booked (timed posts included: they
keep their time and queued posts move round them) and keeps the local day under the cap.
Filling many at once never puts two of one category back to back when another is waiting.

Pure: the zone comes in as a `tzinfo`; the booked instants as a list.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime, time, timedelta, tzinfo
from typing import TYPE_CHECKING
from uuid import UUID

from domain.base import Aggregate, Immutable
from domain.errors import HeraldError
from domain.instants import require_utc
from domain.recurrence import resolve

QUEUES = uuid.UUID("0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f")


def queue_id(workspace: str, account: str) -> UUID:
    """An account's queue: one per account name in a workspace."""
    return uuid.uuid5(QUEUES, f"{workspace}/{account}")


class QueueNotFound(HeraldError):
    code = "queue_not_found"
    field = "account"


class NoFreeSlot(HeraldError):
    code = "no_free_slot"
    field = "queue"


class SlotGrid(Immutable):
    weekly: tuple[tuple[int, time], ...]  # (weekday, Monday 0, local time)
    min_gap: timedelta = timedelta(0)
    daily_cap: int | None = None

    def check(self) -> None:
        if not self.weekly:
            raise HeraldError("a queue needs at least one weekly slot", field="slots")
        if any(not 0 <= day <= 6 for day, _ in self.weekly):
            raise HeraldError("a slot's weekday is 0 (Monday) to 6 (Sunday)", field="slots")
        if self.daily_cap is not None and self.daily_cap < 1:
            raise HeraldError("a daily cap is 1 or more", field="daily_cap")

    def slots(self, zone: tzinfo, after: datetime, until: datetime) -> Iterator[datetime]:
        """Every slot instant at or after `after` and before `until`, in order (a slot the clock
        skips moves to the end of the gap; a repeated one is the first of the two)."""
        times = sorted(set(self.weekly))
        day = after.astimezone(zone).date() - timedelta(days=1)
        last = until.astimezone(zone).date() + timedelta(days=1)
        while day <= last:
            found = sorted({resolve(day, at, zone).due_at for weekday, at in times if weekday == day.weekday()})
            yield from (instant for instant in found if after <= instant < until)
            day += timedelta(days=1)


def free_slots(
    grid: SlotGrid, zone: tzinfo, booked: Sequence[datetime], *, after: datetime, horizon: timedelta
) -> Iterator[datetime]:
    """Every slot at or after `after` (within `horizon`) that keeps the gap to every booked
    post and the local day under the cap, in order."""
    taken = sorted(booked)
    per_day: dict[date, int] = {}
    for instant in taken:
        local = instant.astimezone(zone).date()
        per_day[local] = per_day.get(local, 0) + 1
    for slot in grid.slots(zone, after, after + horizon):
        day = slot.astimezone(zone).date()
        if grid.daily_cap is not None and per_day.get(day, 0) >= grid.daily_cap:
            continue
        if all(abs(slot - other) >= grid.min_gap for other in taken) and slot not in taken:
            yield slot


def next_free(
    grid: SlotGrid, zone: tzinfo, booked: Sequence[datetime], *, after: datetime, horizon: timedelta
) -> datetime:
    """The first free slot (see `free_slots`); `NoFreeSlot` naming the horizon when there is none."""
    for slot in free_slots(grid, zone, booked, after=after, horizon=horizon):
        return slot
    raise NoFreeSlot(f"no free slot within {horizon.days} days of {after.isoformat()}; widen the grid or the cap")


Booked = tuple[datetime, str | None]  # a post already on the account: its instant and category
Allowed = Callable[[datetime, Sequence[datetime]], bool]  # the platform's window: slot, taken


def fill(
    grid: SlotGrid,
    zone: tzinfo,
    items: Sequence[tuple[str, str | None]],
    booked: Sequence[Booked],
    *,
    after: datetime,
    horizon: timedelta,
    allowed: Allowed | None = None,
) -> list[tuple[str, datetime]]:
    """Place queued items (id, category), in the queue's order, in free slots: the one function
    that decides where queued posts go, for the service and its property test.

    Each slot taken keeps the grid's gap and daily cap against every post already booked
    (timed posts keep their time: the queue goes round them) and `allowed` (the platform's
    posting window). A slot takes the first waiting item whose category differs from the posts
    just before and just after it, and which leaves the rest still placeable without two of a
    category back to back; only when no item can avoid it is one placed next to its own kind.
    """
    waiting = list(items)
    taken: list[Booked] = sorted(booked, key=lambda post: post[0])
    placed: list[tuple[str, datetime]] = []
    end = after + horizon  # the horizon counts from the start, not from each slot
    while waiting:
        fallback: datetime | None = None
        chosen: tuple[int, datetime] | None = None
        instants = [at for at, _ in taken]
        for slot in free_slots(grid, zone, instants, after=after, horizon=end - after):
            if allowed is not None and not allowed(slot, instants):
                continue
            fallback = fallback or slot
            near = _neighbours(taken, slot)
            pick = _pick(waiting, near)
            if pick is not None:
                chosen = (pick, slot)
                break
        if chosen is None and fallback is None:
            raise NoFreeSlot(
                f"no free slot within {horizon.days} days of {after.isoformat()} for {len(waiting)} queued "
                "post(s); widen the grid or the cap"
            )
        index, slot = chosen or (0, fallback)  # type: ignore[assignment]
        item, category = waiting.pop(index)
        placed.append((item, slot))
        taken = sorted([*taken, (slot, category)], key=lambda post: post[0])
    return sorted(placed, key=lambda pair: pair[1])


def crowded(
    grid: SlotGrid, zone: tzinfo, queued: Sequence[tuple[str, datetime]], fixed: Sequence[datetime]
) -> list[str]:
    """The queued posts (id, instant) that posts with a fixed time now crowd: on one's instant or
    within the gap of one, or, on a local day over the cap, the latest queued ones of that day.
    These are the ones to push to later slots; the rest stay where they are."""
    out = [item for item, at in queued if any(at == other or abs(at - other) < grid.min_gap for other in fixed)]
    if grid.daily_cap is not None:
        per_day: dict[date, int] = {}
        for at in fixed:
            day = at.astimezone(zone).date()
            per_day[day] = per_day.get(day, 0) + 1
        for item, at in sorted((pair for pair in queued if pair[0] not in out), key=lambda pair: pair[1]):
            day = at.astimezone(zone).date()
            per_day[day] = per_day.get(day, 0) + 1
            if per_day[day] > grid.daily_cap:
                out.append(item)
    return [item for item, _ in queued if item in out]


def _neighbours(taken: Sequence[Booked], slot: datetime) -> set[str]:
    """The categories of the posts just before and just after `slot`."""
    before = [category for at, category in taken if at < slot][-1:]
    after = [category for at, category in taken if at > slot][:1]
    return {category for category in before + after if category is not None}


def _pick(waiting: Sequence[tuple[str, str | None]], near: set[str]) -> int | None:
    """The first waiting item whose category is not next to the slot and after which the rest
    can still be laid out with no two of a kind together; failing that (the queue itself is
    lopsided), the first whose category is not next to the slot."""
    loose: int | None = None
    for index, (_, category) in enumerate(waiting):
        if category is not None and category in near:
            continue
        rest = [cat for n, (_, cat) in enumerate(waiting) if n != index]
        if _placeable(rest, category):
            return index
        loose = index if loose is None else loose
    return loose


def _placeable(categories: Sequence[str | None], previous: str | None) -> bool:
    """Whether `categories` can follow a post of `previous` with none of a kind together: the
    commonest kind needs one other post between each of its own (and before, if it follows
    itself)."""
    counts: dict[str, int] = {}
    for category in categories:
        if category is not None:
            counts[category] = counts.get(category, 0) + 1
    if not counts:
        return True
    kind, most = max(counts.items(), key=lambda pair: pair[1])
    others = len(categories) - most
    return most <= others + (0 if kind == previous else 1)


def shuffled(order: Sequence[UUID], seed: int) -> tuple[UUID, ...]:
    """The queue in a new order, the same for the same seed (recorded, so replay agrees)."""
    mixed = list(order)
    random.Random(seed).shuffle(mixed)
    return tuple(mixed)


class QueueOrderMismatch(HeraldError):
    code = "queue_order_mismatch"
    field = "order"


class AccountQueue(Aggregate):
    """An account's slot grid, in its zone; each change is an event."""

    class Configured(Aggregate.Created):
        workspace: str
        account: str
        zone: str
        grid: SlotGrid

        def apply(self, queue: AccountQueue) -> None:
            queue.workspace = self.workspace
            queue.account = self.account
            queue.zone = self.zone
            queue.grid = self.grid

    class Reconfigured(Aggregate.Event):
        zone: str
        grid: SlotGrid

        def apply(self, queue: AccountQueue) -> None:
            queue.zone = self.zone
            queue.grid = self.grid

    class Enqueued(Aggregate.Event):
        post_id: UUID
        category: str | None = None

        def apply(self, queue: AccountQueue) -> None:
            queue.order = (*queue.order, self.post_id)

    class Reordered(Aggregate.Event):
        order: tuple[UUID, ...]
        actor: str

        def apply(self, queue: AccountQueue) -> None:
            queue.order = _reordered(queue.order, self.order)

    class Shuffled(Aggregate.Event):
        seed: int
        order: tuple[UUID, ...]
        actor: str

        def apply(self, queue: AccountQueue) -> None:
            queue.order = _reordered(queue.order, self.order)

    class Moved(Aggregate.Event):
        """Queued posts given new slots, and why (a timed post needed the room, a reorder)."""

        moves: tuple[tuple[UUID, datetime], ...]
        reason: str

        def apply(self, queue: AccountQueue) -> None:
            del queue  # the posts hold their times; this says why they changed

    if TYPE_CHECKING:
        workspace: str
        account: str
        zone: str
        grid: SlotGrid
    order: tuple[UUID, ...] = ()  # queued posts, first first (some may have gone out since)

    @classmethod
    def configure(cls, *, workspace: str, account: str, zone: str, grid: SlotGrid, now: datetime) -> AccountQueue:
        grid.check()
        return cls._create(
            cls.Configured,
            id=queue_id(workspace, account),
            timestamp=require_utc(now, field="now"),
            workspace=workspace,
            account=account,
            zone=zone,
            grid=grid,
        )

    def reconfigure(self, *, zone: str, grid: SlotGrid, now: datetime) -> None:
        grid.check()
        if (zone, grid) != (self.zone, self.grid):
            self.trigger_event(self.Reconfigured, timestamp=require_utc(now, field="now"), zone=zone, grid=grid)

    def enqueue(self, post_id: UUID, category: str | None, *, now: datetime) -> None:
        self.trigger_event(self.Enqueued, timestamp=require_utc(now, field="now"), post_id=post_id, category=category)

    def reorder(self, order: Sequence[UUID], waiting: Sequence[UUID], *, actor: str, now: datetime) -> None:
        """Put the waiting posts in `order`, which must name each of them once."""
        _same_posts(order, waiting)
        self.trigger_event(self.Reordered, timestamp=require_utc(now, field="now"), order=tuple(order), actor=actor)

    def shuffle(self, waiting: Sequence[UUID], seed: int, *, actor: str, now: datetime) -> tuple[UUID, ...]:
        order = shuffled(waiting, seed)
        self.trigger_event(self.Shuffled, timestamp=require_utc(now, field="now"), seed=seed, order=order, actor=actor)
        return order

    def record_moves(self, moves: Sequence[tuple[UUID, datetime]], reason: str, *, now: datetime) -> None:
        if moves:
            self.trigger_event(self.Moved, timestamp=require_utc(now, field="now"), moves=tuple(moves), reason=reason)


def _reordered(current: tuple[UUID, ...], order: tuple[UUID, ...]) -> tuple[UUID, ...]:
    """`order` first, then whatever it did not name (posts gone out since), as they were."""
    named = set(order)
    return (*order, *(post_id for post_id in current if post_id not in named))


def _same_posts(order: Sequence[UUID], waiting: Sequence[UUID]) -> None:
    if len(order) != len(set(order)):
        raise QueueOrderMismatch("the order names a post twice")
    missing, extra = set(waiting) - set(order), set(order) - set(waiting)
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"it leaves out {', '.join(sorted(map(str, missing))[:3])}")
        if extra:
            parts.append(f"{', '.join(sorted(map(str, extra))[:3])} is not waiting in this queue")
        raise QueueOrderMismatch(
            "the order must name every post waiting in the queue once (GET the queue to see them): " + "; ".join(parts)
        )
