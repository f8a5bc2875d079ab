"""Runs projections: reads the log after the projection's tracking position, folds a batch,
and writes the rows and the new position in one transaction, so each event counts once.

Several processes may run the same projection: the position moves by compare-and-set, and a
runner that finds it moved by someone else reads on from there. The store (tables, tracking,
the log) is `infrastructure/persistence/projection_store.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from projections.facts import Fact


class Projection(Protocol):
    name: str
    tables: tuple[str, ...]
    handles: frozenset[type[Any]]  # the post events it folds
    ignores: frozenset[type[Any]]  # the post events it deliberately leaves out

    def apply(self, writer: Any, facts: Sequence[Fact]) -> None: ...


Keep = Callable[[Fact], bool]


class ProjectionStore(Protocol):
    def create(self, projection: Projection, suffix: str = "") -> None:
        """The projection's tables and tracking row (at position 0), if missing."""
        ...

    def position(self, tracking_name: str) -> int: ...
    def read(self, after: int, limit: int) -> list[Fact]: ...

    def write(
        self, projection: Projection, suffix: str, position: int, facts: Sequence[Fact], keep: Keep | None = None
    ) -> bool:
        """Fold `facts` (those `keep` accepts) and move the tracking position from `position`
        past them, in one transaction; False if another runner moved it first."""
        ...


class ProjectionRunner:
    def __init__(
        self,
        store: ProjectionStore,
        projection: Projection,
        batch_size: int = 1000,
        suffix: str = "",
    ) -> None:
        self.store = store
        self.projection = projection
        self.batch_size = batch_size
        self.suffix = suffix
        self.tracking_name = projection.name + suffix
        store.create(projection, suffix)

    def read(self, position: int) -> list[Fact]:
        return self.store.read(position, self.batch_size)

    def write(self, position: int, facts: Sequence[Fact], keep: Keep | None = None) -> bool:
        return self.store.write(self.projection, self.suffix, position, facts, keep)

    def run_once(self) -> int:
        """Apply at most one batch; return how many events it read (0: caught up)."""
        while True:
            # two plain reads: the write's compare-and-set on the position keeps them honest
            position = self.store.position(self.tracking_name)
            facts = self.read(position)
            if not facts:
                return 0
            if self.write(position, facts):
                return len(facts)
            # another runner applied this batch first: read on from where it left off

    def catch_up(self, max_batches: int | None = None) -> int:
        """Apply batches until the log has nothing new (or `max_batches` were applied); return
        the events read."""
        total, batches = 0, 0
        while applied := self.run_once():
            total, batches = total + applied, batches + 1
            if applied < self.batch_size or batches == max_batches:
                break  # a short batch: the log held nothing more when it was read
        return total
