"""Requests that did not authenticate: counted per client address, so a stranger guessing
keys is slowed down, and even a 401 carries rate-limit headers (of this policy, not of any
workspace's, which a stranger must not see)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from infrastructure.persistence.rate_limit import RateLimited, limit_headers
from services.ports import Clock

POLICY = "failed-auth"


@dataclass
class Strangers:
    limit: int
    clock: Clock
    failures: dict[tuple[str, int], int] = field(default_factory=dict)  # (address, minute) → failures

    def _window(self) -> tuple[int, float]:
        now = self.clock().timestamp()
        start = int(now // 60)
        return start, (start + 1) * 60 - now

    def check(self, address: str) -> None:
        """Refuse an address that failed to authenticate `limit` times this minute."""
        start, left = self._window()
        if self.failures.get((address, start), 0) >= self.limit:
            raise RateLimited(
                f"too many requests without a valid key from {address}; wait {math.ceil(left)}s", math.ceil(left)
            )

    def failed(self, address: str) -> None:
        start, _ = self._window()
        self.failures = {k: v for k, v in self.failures.items() if k[1] >= start}  # forget past minutes
        self.failures[(address, start)] = self.failures.get((address, start), 0) + 1

    def headers(self, address: str) -> dict[str, str]:
        start, left = self._window()
        return limit_headers(POLICY, self.limit, self.failures.get((address, start), 0), left)
