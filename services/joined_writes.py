"""A request's own writes, made in the transaction that saves its events.

The API records a request's idempotency key and counts it against its workspace's rate limit.
Made apart, each was a transaction of its own beside the one saving the post. Joined, the key,
the count and the post commit together or not at all, in one transaction (PostgreSQL).

A joined write is opaque here: `write` is the store's own function that writes every row of
its kind in one statement, so a group commit (`services/group_commit.py`) carrying many
requests makes one statement per kind, not one per request. A write that raises rolls the
whole save back; group commit then saves each request alone, so only the one at fault gets
the error.

Only the first save made under `joining` takes the writes: a request saves its new post once,
and whatever it saves after (queued posts moved to later slots) is not part of that record.
A write may need what that save holds (the idempotency key keeps the version of the post it
created): its `row_of` makes its row from the save's events, in the caller's thread, when the
save takes it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class JoinedWrite:
    write: Callable[[Any, list[Any]], None]  # write(cursor, rows): all rows of this kind, one statement
    row: Any = None
    row_of: Callable[[Sequence[Any]], Any] | None = None  # the row, made from the events saved with it

    def made(self, events: Sequence[Any]) -> JoinedWrite:
        return self if self.row_of is None else JoinedWrite(self.write, self.row_of(events))


_pending: ContextVar[list[JoinedWrite] | None] = ContextVar("joined_writes", default=None)


@contextmanager
def joining(writes: Sequence[JoinedWrite]) -> Iterator[None]:
    """Within this block, the first save of events carries `writes` in its transaction."""
    token = _pending.set(list(writes))
    try:
        yield
    finally:
        _pending.reset(token)


def taken(events: Sequence[Any] = ()) -> list[JoinedWrite]:
    """The writes waiting for this thread's next save, which holds `events`; taken once (then
    none are left)."""
    pending = _pending.get()
    if not pending:
        return []
    writes = [joined.made(events) for joined in pending]
    pending.clear()
    return writes


def by_kind(writes: Sequence[JoinedWrite]) -> list[tuple[Callable[[Any, list[Any]], None], list[Any]]]:
    """The writes grouped by the function that writes them, in the order each kind first came."""
    kinds: dict[Callable[[Any, list[Any]], None], list[Any]] = {}
    for joined in writes:
        kinds.setdefault(joined.write, []).append(joined.row)
    return list(kinds.items())
