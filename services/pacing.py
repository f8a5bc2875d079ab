"""Per-account pacing: rolling posting windows per platform, and 429 pauses for one account only."""

from __future__ import annotations

from collections import defaultdict, deque
from datetime import datetime, timedelta

from domain.quota import QUOTAS

PLATFORM_LIMITS: dict[str, tuple[int, timedelta]] = {platform.value: limit for platform, limit in QUOTAS.items()}
Account = tuple[str, str]  # (workspace, account name): an account is only ever itself in its workspace
SWEEP_EVERY = timedelta(seconds=60)  # how often accounts with an empty window are forgotten


class Pacer:
    """Decides whether an account may send now. One per dispatcher process. Accounts are keyed
    by workspace and name: a 429 on `main` in one workspace never pauses `main` in another."""

    def __init__(self, limits: dict[str, tuple[int, timedelta]] | None = None) -> None:
        self.limits = PLATFORM_LIMITS if limits is None else limits
        self._sent: dict[Account, deque[datetime]] = defaultdict(deque)
        self._paused_until: dict[Account, datetime] = {}
        self._platform_limit: dict[Account, tuple[int, timedelta]] = {}  # each account's, from its last post
        # the accounts whose window was full when last looked at: only a take fills a window,
        # so these are the only ones that can be full now (a dispatcher asks on every batch,
        # and walking every account that posted in the last hours cost ~9% of its time)
        self._filled: dict[Account, None] = {}
        self._swept: datetime | None = None

    def blocked_accounts(self, now: datetime) -> list[Account]:
        """Accounts that may not send now: paused by a 429, or with their window full. The due
        query leaves them out, so their backlog never crowds the others out of a batch."""
        for account, until in list(self._paused_until.items()):
            if until <= now:
                del self._paused_until[account]
        if self._swept is None or not self._swept <= now < self._swept + SWEEP_EVERY:
            self._sweep(now)
        for account in list(self._filled):
            if not self._full(account, self._sent[account], now):
                del self._filled[account]
        return [*self._paused_until, *(account for account in self._filled if account not in self._paused_until)]

    def _sweep(self, now: datetime) -> None:
        """Forget the accounts with nothing in their window, so memory follows the accounts
        that post, and note every full one."""
        self._swept = now
        for account, sent in list(self._sent.items()):
            if self._full(account, sent, now):
                self._filled[account] = None
            elif not sent:
                del self._sent[account]
                self._platform_limit.pop(account, None)

    def _full(self, account: Account, sent: deque[datetime], now: datetime) -> bool:
        count, window = self._platform_limit.get(account, (10**9, timedelta(seconds=1)))
        while sent and sent[0] <= now - window:
            sent.popleft()
        return len(sent) >= count

    def pause(self, account: Account, until: datetime) -> None:
        """Honour a 429's reset for this account, and only this one."""
        self._paused_until[account] = max(until, self._paused_until.get(account, until))

    def take(self, account: Account, platform: str, now: datetime) -> bool:
        """Use one slot of the account's window if one is free."""
        if account in self._paused_until and self._paused_until[account] > now:
            return False
        self._platform_limit[account] = self.limits.get(platform, (10**9, timedelta(seconds=1)))
        sent = self._sent[account]
        if self._full(account, sent, now):
            self._filled[account] = None
            return False
        sent.append(now)
        if self._full(account, sent, now):
            self._filled[account] = None
        return True

    def give_back(self, account: Account, taken_at: datetime) -> None:
        """Return a slot taken at `taken_at` for a post that was not sent after all (its claim
        was refused: another worker has it, or it is already done). Only sends fill a window."""
        sent = self._sent.get(account)
        if sent and taken_at in sent:
            sent.remove(taken_at)  # slots taken at one instant are alike: the window stays in order
