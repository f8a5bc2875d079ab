"""Wake-ups on PostgreSQL: LISTEN on the events table's channel, so a process waiting for
work (a dispatcher, the projection runner) wakes when an event is appended, not on a timer.

One connection of the process's pool is held for it until `close`."""

from __future__ import annotations

import contextlib
from typing import Any

from psycopg.sql import SQL, Identifier


class Listener:
    def __init__(self, pool: Any, channel: str) -> None:
        self.pool = pool
        self.conn = pool.getconn()
        self.conn.execute(SQL("LISTEN {}").format(Identifier(channel)))

    def wait(self, timeout: float) -> bool:
        """Block until an event is appended (True) or `timeout` seconds pass (False)."""
        return bool(self.heard(timeout))

    def heard(self, timeout: float) -> list[str]:
        """Block until events are appended, then give every payload received so far (a save's
        due hints, or "" for a bare notification); [] when `timeout` seconds pass first."""
        payloads = [note.payload for note in self.conn.notifies(timeout=timeout, stop_after=1)]
        if payloads:  # and whatever else has arrived meanwhile, without waiting
            payloads += [note.payload for note in self.conn.notifies(timeout=0)]
        return payloads

    def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(Exception):  # a broken connection: the pool replaces it
                self.conn.execute("UNLISTEN *")
                self.conn.execute("SELECT pg_advisory_unlock_all()")  # a dispatcher's place (partitions.py)
            self.pool.putconn(self.conn)
            self.conn = None
