"""Queue slots: where "put this in the account's next free slot" lands.

An account's grid is a weekly set of local times in its zone (Mon-Fri 09:00, 12:30, 17:00),
a minimum gap between its posts, and a daily cap. A post goes to the first slot at or after
a given instant that keeps the gap to every post already booked (timed posts included: they
keep their time and queued posts move round them) and keeps the local day under the cap.
Filling many at once never puts two of one category back to back when another is waiting.

Pure: the zone comes in as a `tzinfo`; the booked instants as a list.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
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


def fill(
    grid: SlotGrid,
    zone: tzinfo,
    items: Sequence[tuple[str, str | None]],
    booked: Sequence[datetime],
    *,
    after: datetime,
    horizon: timedelta,
    last_category: str | None = None,
) -> list[tuple[str, datetime]]:
    """Place queued items (id, category) in order of the queue, each in the next free slot,
    never two of one category back to back while an item of another category waits."""
    waiting = list(items)
    placed: list[tuple[str, datetime]] = []
    taken = list(booked)
    previous = last_category
    cursor, end = after, after + horizon  # the horizon counts from the start, not from each slot
    while waiting:
        pick = next((i for i, (_, cat) in enumerate(waiting) if cat is None or cat != previous), 0)
        item, category = waiting.pop(pick)
        slot = next_free(grid, zone, taken, after=cursor, horizon=end - cursor)
        placed.append((item, slot))
        taken.append(slot)
        previous, cursor = category, slot
    return placed


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

    if TYPE_CHECKING:
        workspace: str
        account: str
        zone: str
        grid: SlotGrid

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
