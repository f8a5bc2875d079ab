"""What the dispatcher needs from a platform adapter, and what an adapter needs of an account."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from domain.content import Content, Platform
from domain.intent import PublishIntent
from domain.outcomes import Observed, RemotePost
from domain.validation import Problem


@dataclass(frozen=True)
class AccountAccess:
    """An account as an adapter uses it: where to send, as whom, with which credentials."""

    workspace: str
    name: str
    platform: Platform
    handle: str
    remote_user_id: str
    base_url: str
    credentials: dict[str, Any] = field(repr=False)
    settings: dict[str, Any] = field(default_factory=dict)
    token_expires_at: datetime | None = None


@dataclass(frozen=True)
class Refreshed:
    credentials: dict[str, Any] = field(repr=False)
    expires_at: datetime | None


class RefreshFailed(Exception):
    """The platform refused to refresh (the refresh token was revoked or expired)."""


class PlatformAdapter(Protocol):
    platform: Platform
    limits: tuple[int, timedelta]  # posts per rolling window
    has_refresh: bool

    async def publish(self, intent: PublishIntent, account: AccountAccess) -> Observed: ...
    async def find(self, intent: PublishIntent, account: AccountAccess) -> RemotePost | None: ...
    def validate(self, content: Content, account: AccountAccess) -> list[Problem]: ...
    async def refresh(self, account: AccountAccess) -> Refreshed: ...
