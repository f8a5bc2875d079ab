"""An evergreen pool: posts worth saying again, recycled into free queue slots.

    Created ─► Recycled (one per reuse) … ─► Paused ⇄ Resumed ─► Deleted

A pool holds items (each with one or more variants of its content) and the accounts it
feeds. Just in time, each account's free queue slots take the next item in rotation whose
last use on that account is at least `min_interval` before the slot, never the item used
just before (so never two alike in a row), each reuse with the next of its variants. Every
reuse is a new `Post` with its own publish key, and a `Recycled` event saying which item
and variant it is, so replay shows why every post exists.

X refuses a post whose text repeats one the account posted lately, so a pool feeding an X
account needs at least two variants of each item: the rotation never sends one variant twice
in a row there.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from uuid import UUID

from domain.base import Aggregate, Immutable
from domain.content import Content, Platform
from domain.errors import HeraldError
from domain.instants import require_utc
from domain.rule import Target, TargetsMissing
from domain.text import check_text

POOLS = uuid.UUID("3e9a7c51-2b4d-4f6e-8a1c-5d7e9f0b2c4a")
SHORTEST_INTERVAL = timedelta(hours=1)


class PoolNotFound(HeraldError):
    code = "pool_not_found"
    field = "pool_id"


class VariantsRequired(HeraldError):
    code = "variants_required"
    field = "items"


class EvergreenItem(Immutable):
    key: str  # stable within the pool: what "the same item" means
    variants: tuple[Content, ...]


class Choice(Immutable):
    item: EvergreenItem
    variant: int  # index into the item's variants
    use: int  # how many times the item went to this account before


def reuse_post_id(pool_id: UUID, account: str, item: str, use: int) -> UUID:
    """The post of an item's `use`-th reuse on an account: the same inputs, the same post."""
    return uuid.uuid5(POOLS, f"{pool_id}/{account}/{item}/{use}")


class Pool(Aggregate):
    class Created(Aggregate.Created):
        workspace: str
        name: str
        targets: tuple[Target, ...]
        items: tuple[EvergreenItem, ...]
        min_interval_seconds: float
        category: str

        def apply(self, pool: Pool) -> None:
            pool.workspace = self.workspace
            pool.name = self.name
            pool.targets = self.targets
            pool.items = self.items
            pool.min_interval = timedelta(seconds=self.min_interval_seconds)
            pool.category = self.category
            pool.paused = False
            pool.deleted = False
            pool.uses = {}
            pool.last = {}

    class Recycled(Aggregate.Event):
        """An item went to an account again: a new post at a free slot of its queue."""

        account: str
        item: str
        variant: int
        use: int
        post_id: UUID
        slot: datetime

        def apply(self, pool: Pool) -> None:
            pool.uses.setdefault(self.account, {})[self.item] = (self.slot, self.variant, self.use + 1)
            pool.last[self.account] = self.item

    class Paused(Aggregate.Event):
        def apply(self, pool: Pool) -> None:
            pool.paused = True

    class Resumed(Aggregate.Event):
        def apply(self, pool: Pool) -> None:
            pool.paused = False

    class Deleted(Aggregate.Event):
        def apply(self, pool: Pool) -> None:
            pool.deleted = True

    if TYPE_CHECKING:
        workspace: str
        name: str
        targets: tuple[Target, ...]
        items: tuple[EvergreenItem, ...]
        min_interval: timedelta
        category: str
        paused: bool
        deleted: bool
        uses: dict[str, dict[str, tuple[datetime, int, int]]]  # account → item → (last slot, variant, uses)
        last: dict[str, str]  # account → the item it was given last

    @classmethod
    def create(
        cls,
        *,
        pool_id: UUID,
        workspace: str,
        name: str,
        targets: tuple[Target, ...],
        items: tuple[EvergreenItem, ...],
        min_interval: timedelta,
        category: str,
        now: datetime,
    ) -> Pool:
        check_text(name, field="name")
        check_text(category, field="category")
        if not targets:
            raise TargetsMissing("a pool needs at least one target: an account and its platform")
        check_items(items, targets)
        if min_interval < SHORTEST_INTERVAL:
            raise HeraldError(
                f"an item may come back after {SHORTEST_INTERVAL} at the soonest", field="min_interval_days"
            )
        return cls._create(
            cls.Created,
            id=pool_id,
            timestamp=require_utc(now, field="now"),
            workspace=workspace,
            name=name,
            targets=targets,
            items=items,
            min_interval_seconds=min_interval.total_seconds(),
            category=category,
        )

    def choose(self, account: str, slot: datetime) -> Choice | None:
        """The item (and its variant) for `account`'s free slot at `slot`: the next in rotation
        after the last one given, not used there within `min_interval` of the slot and not the
        last one given; None when no item may go yet."""
        if self.paused or self.deleted or not self.items:
            return None
        used = self.uses.get(account, {})
        keys = [item.key for item in self.items]
        last = self.last.get(account)
        start = keys.index(last) + 1 if last in keys else 0
        for step in range(len(keys)):
            item = self.items[(start + step) % len(keys)]
            if item.key == last and len(keys) > 1:
                continue
            previous = used.get(item.key)
            if previous is not None and slot - previous[0] < self.min_interval:
                continue
            variant = (previous[1] + 1) % len(item.variants) if previous is not None else 0
            return Choice(item=item, variant=variant, use=previous[2] if previous is not None else 0)
        return None

    def recycle(self, account: str, choice: Choice, *, post_id: UUID, slot: datetime, now: datetime) -> None:
        self.trigger_event(
            self.Recycled,
            timestamp=require_utc(now, field="now"),
            account=account,
            item=choice.item.key,
            variant=choice.variant,
            use=choice.use,
            post_id=post_id,
            slot=slot,
        )

    def pause(self, *, now: datetime) -> None:
        if not self.paused:
            self.trigger_event(self.Paused, timestamp=require_utc(now, field="now"))

    def resume(self, *, now: datetime) -> None:
        if self.paused:
            self.trigger_event(self.Resumed, timestamp=require_utc(now, field="now"))

    def delete(self, *, now: datetime) -> None:
        if not self.deleted:
            self.trigger_event(self.Deleted, timestamp=require_utc(now, field="now"))


def check_items(items: tuple[EvergreenItem, ...], targets: tuple[Target, ...]) -> None:
    """Each item has a distinct key and at least one variant; where the pool feeds X, at least
    two variants, each with its own text, since X refuses a text the account posted lately."""
    if not items:
        raise HeraldError("a pool needs at least one item", field="items")
    seen: set[str] = set()
    for index, item in enumerate(items):
        check_text(item.key, field=f"items[{index}].key")
        if item.key in seen:
            raise HeraldError(f"two items share the key {item.key!r}", field=f"items[{index}].key")
        seen.add(item.key)
        if not item.variants:
            raise HeraldError("an item needs at least one variant", field=f"items[{index}].variants")
        for variant in item.variants:
            variant.check_characters()
        texts = {variant.text for variant in item.variants}
        if any(t.platform is Platform.X for t in targets) and not 2 <= len(texts) == len(item.variants):
            raise VariantsRequired(
                f"X refuses a post whose text repeats one the account posted lately: give item {item.key!r} "
                "at least two variants, each with its own text, so no reuse on X repeats the one before",
                field=f"items[{index}].variants",
            )
