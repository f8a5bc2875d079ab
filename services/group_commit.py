"""Group commit: saves made at the same moment by concurrent threads, joined into one.

On PostgreSQL every save of events is a transaction that takes the events table's lock
(the library's `LOCK TABLE … IN EXCLUSIVE MODE`), so one process's saves go one at a time
whatever it does; each costs the same round trips whether it holds one post or fifty. So
one thread at a time saves, and it saves everything waiting: a thread that arrives while a
save is under way leaves its events, and the next save takes them along with the others
that came meanwhile. When nothing else is waiting a save starts at once, alone: batching
never adds a wait of its own.

A batch the store refuses (a version conflict: someone appended to one of its aggregates
first) is saved again one caller at a time, so only the caller whose events conflict gets
the error; the others' events land as if each had saved alone.

A caller's due hints (`services/due_hints.py`) and its request's own writes
(`services/joined_writes.py`: an idempotency key, a rate count) travel with its events: a
joined save carries everyone's.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from services.joined_writes import taken


class _Ticket:
    __slots__ = ("also", "done", "error", "events", "hints", "saved")

    def __init__(self, events: Sequence[Any], hints: Sequence[Any], also: Sequence[Any]) -> None:
        self.events = events
        self.hints = hints
        self.also = also
        self.done = False
        self.saved = False
        self.error: BaseException | None = None


class GroupCommit:
    def __init__(self, save: Callable[..., Any], most: int = 200) -> None:
        self._save = save  # save(*events, due=hints, also=writes): one transaction
        self.most = most  # events at most per save: a transaction stays short
        self._waiting: list[_Ticket] = []
        self._saving = False
        self._turn = threading.Condition()
        self.saves = 0  # transactions made (for the benchmark and the tests)

    def __call__(self, events: Sequence[Any], hints: Sequence[Any] = ()) -> None:
        """Save `events` (one caller's, all or none), in a transaction shared with whoever
        else saves now; raises the store's error if these events, saved alone, are refused."""
        if not events:
            return
        ticket = _Ticket(events, hints, taken(events))  # taken in the caller's thread: its request's writes
        with self._turn:
            self._waiting.append(ticket)
        while True:  # until a save (ours, or another caller's) has taken our events
            with self._turn:
                while self._saving and not ticket.done:
                    self._turn.wait()
                if ticket.done:
                    break
                self._saving = True
                batch = self._take()  # older callers first: ours may wait for the next turn
            try:
                self._commit(batch)
            finally:
                with self._turn:
                    self._saving = False
                    self._turn.notify_all()
        self._outcome(ticket)

    def _take(self) -> list[_Ticket]:
        """The waiting tickets, oldest first, up to `most` events (always at least one ticket)."""
        taken, count = 0, 0
        for ticket in self._waiting:
            if taken and count + len(ticket.events) > self.most:
                break
            taken, count = taken + 1, count + len(ticket.events)
        batch, self._waiting = self._waiting[:taken], self._waiting[taken:]
        return batch

    def _commit(self, batch: list[_Ticket]) -> None:
        try:
            try:
                self._save(
                    *[event for ticket in batch for event in ticket.events],
                    due=[hint for ticket in batch for hint in ticket.hints],
                    also=[write for ticket in batch for write in ticket.also],
                )
                self.saves += 1
                for ticket in batch:
                    ticket.saved = True
            except Exception as refused:
                if len(batch) == 1:
                    batch[0].error = refused
                else:
                    for ticket in batch:  # only the ticket whose own save fails gets the error
                        try:
                            self._save(*ticket.events, due=ticket.hints, also=ticket.also)
                            self.saves += 1
                            ticket.saved = True
                        except Exception as alone:
                            ticket.error = alone
        except BaseException as stopped:  # interrupted: no waiting caller may think it saved
            for ticket in batch:
                if not ticket.saved:
                    ticket.error = ticket.error or stopped
            raise
        finally:
            with self._turn:
                for ticket in batch:
                    ticket.done = True

    @staticmethod
    def _outcome(ticket: _Ticket) -> None:
        if ticket.error is not None:
            raise ticket.error
