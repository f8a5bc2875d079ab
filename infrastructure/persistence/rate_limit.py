"""Creations per workspace per minute, in fixed one-minute windows counted in the database,
so any number of API processes share one limit.

A post's creation on PostgreSQL is counted in the transaction that saves it (`joined`,
`services/joined_writes.py`): a creation refused over the limit saves nothing and counts for
nothing. A workspace this process has seen spend its window is refused at once, without a
transaction (`check`), so one workspace over its limit does not make the others' joined saves
fail and be saved again one by one."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from domain.errors import HeraldError
from infrastructure.persistence.connections import ReadStore
from services.joined_writes import JoinedWrite
from services.ports import Clock


class RateLimited(HeraldError):
    code = "rate_limited"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def limit_headers(policy: str, limit: int, used: int, left: float) -> dict[str, str]:
    """The RateLimit-* headers of a one-minute window (IETF draft), naming its policy."""
    return {
        "RateLimit-Policy": f'"{policy}";q={limit};w=60',
        "RateLimit-Limit": str(limit),
        "RateLimit-Remaining": str(max(0, limit - used)),
        "RateLimit-Reset": str(math.ceil(left)),
    }


@dataclass
class RateLimiter:
    limit: int
    clock: Clock
    store: ReadStore | None = None
    seen: dict[tuple[str, int], int] = field(default_factory=dict)  # last counts this process saw
    _swept: int = 0  # the window whose spent predecessors this process last deleted

    def __post_init__(self) -> None:
        if self.store is not None:
            with self.store.creating() as cursor:
                cursor.execute(
                    "CREATE TABLE IF NOT EXISTS api_rate (workspace TEXT NOT NULL, minute BIGINT NOT NULL,"
                    " used INTEGER NOT NULL, PRIMARY KEY (workspace, minute))"
                )

    def _window(self) -> tuple[int, float]:
        now = self.clock().timestamp()
        start = int(now // 60)
        return start, (start + 1) * 60 - now

    def headers(self, workspace: str) -> dict[str, str]:
        start, left = self._window()
        return limit_headers("creations", self.limit, self.seen.get((workspace, start), 0), left)

    def take(self, workspace: str) -> None:
        """Count one creation, or refuse it (`RateLimited`) when the window is spent (blocking:
        call in a thread)."""
        start, left = self._window()
        used = self._count(workspace, start)
        self._saw({workspace: used}, start)
        if used > self.limit:
            raise RateLimited(f"at most {self.limit} posts may be created a minute", math.ceil(left))

    def check(self, workspace: str) -> None:
        """Refuse (`RateLimited`) a creation in a window this process has seen spent."""
        start, left = self._window()
        if self.seen.get((workspace, start), 0) >= self.limit:
            raise RateLimited(f"at most {self.limit} posts may be created a minute", math.ceil(left))

    def joined(self, workspace: str) -> JoinedWrite:
        """One creation, counted by the transaction that saves it; refused there over the limit."""
        return JoinedWrite(self._count_joined, workspace)

    def _count_joined(self, cursor: Any, workspaces: list[str]) -> None:
        """Every joined creation in one statement; `RateLimited` if any workspace went over."""
        start, left = self._window()
        counts = Counter(workspaces)
        cursor.execute(
            "INSERT INTO api_rate (workspace, minute, used) SELECT workspace, %s, n"
            " FROM unnest(%s::text[], %s::int[]) AS joined(workspace, n) ON CONFLICT (workspace, minute)"
            " DO UPDATE SET used = api_rate.used + excluded.used RETURNING workspace, used",
            [start, list(counts), list(counts.values())],
        )
        used = {row["workspace"]: int(row["used"]) for row in cursor.fetchall()}
        self._swept_before(cursor, start)
        self._saw(used, start)
        if any(n > self.limit for n in used.values()):
            raise RateLimited(f"at most {self.limit} posts may be created a minute", math.ceil(left))

    def _saw(self, used: dict[str, int], start: int) -> None:
        seen = {k: v for k, v in self.seen.items() if k[1] >= start}
        seen.update({(workspace, start): min(n, self.limit) for workspace, n in used.items()})
        self.seen = seen

    def _swept_before(self, cursor: Any, start: int) -> None:
        if self._swept < start:  # spent windows go once a minute per process, not per request
            cursor.execute("DELETE FROM api_rate WHERE minute < %s", [start - 1])
            self._swept = start

    def _count(self, workspace: str, start: int) -> int:
        if self.store is None:
            return self.seen.get((workspace, start), 0) + 1
        with self.store.reading() as cursor:  # one statement: its own transaction
            cursor.execute(
                "INSERT INTO api_rate (workspace, minute, used) VALUES (%s, %s, 1) ON CONFLICT (workspace, minute)"
                " DO UPDATE SET used = api_rate.used + 1 RETURNING used",
                [workspace, start],
            )
            used = int(cursor.fetchone()[0])
            self._swept_before(cursor, start)
        return used
