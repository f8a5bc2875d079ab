"""Per-account pacing: rolling posting windows per platform, and 429 pauses for one account only."""

from __future__ import annotations

from collections import defaultdict, deque
from datetime import datetime, timedelta

from domain.quota import QUOTAS

PLATFORM_LIMITS: dict[str, tuple[int, timedelta]] = {platform.value: limit for platform, limit in QUOTAS.items()}


class Pacer:
    """Decides whether an account may send now. One per dispatcher process."""

    def __init__(self, limits: dict[str, tuple[int, timedelta]] | None = None) -> None:
        self.limits = PLATFORM_LIMITS if limits is None else limits
        self._sent: dict[str, deque[datetime]] = defaultdict(deque)
        self._paused_until: dict[str, datetime] = {}

    def paused_accounts(self, now: datetime) -> list[str]:
        for account, until in list(self._paused_until.items()):
            if until <= now:
                del self._paused_until[account]
        return list(self._paused_until)

    def pause(self, account: str, until: datetime) -> None:
        """Honour a 429's reset for this account, and only this one."""
        self._paused_until[account] = max(until, self._paused_until.get(account, until))

    def take(self, account: str, platform: str, now: datetime) -> bool:
        """Use one slot of the account's window if one is free."""
        if account in self._paused_until and self._paused_until[account] > now:
            return False
        count, window = self.limits.get(platform, (10**9, timedelta(seconds=1)))
        sent = self._sent[account]
        while sent and sent[0] <= now - window:
            sent.popleft()
        if len(sent) >= count:
            return False
        sent.append(now)
        return True
