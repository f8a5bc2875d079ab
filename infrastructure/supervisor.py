"""Supervising the parts of `herald serve`: a part that raises is logged with its traceback
and started again after a capped backoff; a part that keeps crashing stops the whole process
with a non-zero exit, never a quiet "stopped cleanly". What each part is doing is what
`/readyz` reports."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("herald.serve")

Run = Callable[[asyncio.Event], Awaitable[None]]  # a part: runs until the event is set; raises if it breaks


@dataclass
class Part:
    name: str
    run: Run
    running: bool = False
    restarts: int = 0
    last_error: str | None = None
    crashes: list[float] = field(default_factory=list)

    def report(self) -> dict[str, Any]:
        return {"running": self.running, "restarts": self.restarts, "last_error": self.last_error}


class PartKeptCrashing(Exception):
    pass


@dataclass
class Supervisor:
    parts: list[Part]
    stop: asyncio.Event
    max_crashes: int = 5  # crashes within `window` seconds after which the process gives up
    window: float = 60.0
    backoff_cap: float = 30.0
    failed: str | None = None  # the part that kept crashing, if one did

    async def run(self) -> None:
        """Run every part until `stop` is set (or one part keeps crashing, which sets it)."""
        await asyncio.gather(*(self._keep(part) for part in self.parts))

    async def _keep(self, part: Part) -> None:
        while not self.stop.is_set():
            part.running = True
            try:
                await part.run(self.stop)
                if self.stop.is_set():
                    break
                raise RuntimeError("it returned while serve was still running")
            except asyncio.CancelledError:
                raise
            except Exception as problem:
                part.running = False
                part.last_error = f"{type(problem).__name__}: {problem}".splitlines()[0][:500]
                log.exception("part %s crashed", part.name)
                now = time.monotonic()
                part.crashes = [t for t in part.crashes if now - t < self.window] + [now]
                if len(part.crashes) >= self.max_crashes:
                    log.error(
                        "part %s crashed %d times within %.0fs: stopping serve",
                        part.name,
                        len(part.crashes),
                        self.window,
                    )
                    self.failed = part.name
                    self.stop.set()
                    break
                part.restarts += 1
                pause = min(self.backoff_cap, 0.5 * 2 ** (len(part.crashes) - 1))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stop.wait(), timeout=pause)
        part.running = False

    def report(self) -> dict[str, dict[str, Any]]:
        return {part.name: part.report() for part in self.parts}
