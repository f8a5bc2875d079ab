"""Wake-ups on PostgreSQL: LISTEN on the events table's channel, so a process waiting for
work (a dispatcher, the projection runner) wakes when an event is appended, not on a timer.

One connection of the process's pool is held for it until `close`."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any


class Listener:
    def __init__(self, pool: Any, channel: str) -> None:
        self.pool = pool
        self.conn = pool.getconn()
        self.conn.execute(f"LISTEN {channel}")

    def wait(self, timeout: float) -> bool:
        """Block until an event is appended (True) or `timeout` seconds pass (False)."""
        for _ in self.conn.notifies(timeout=timeout, stop_after=1):
            return True
        return False

    async def wake(self, timeout: float) -> None:
        """`wait` for the event loop (it runs in a thread)."""
        await asyncio.to_thread(self.wait, timeout)

    def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(Exception):  # a broken connection: the pool replaces it
                self.conn.execute("UNLISTEN *")
                self.conn.execute("SELECT pg_advisory_unlock_all()")  # a dispatcher's place (partitions.py)
            self.pool.putconn(self.conn)
            self.conn = None
