"""An account on one platform: who posts, where, and with which (sealed) credentials.

    Connected ─► TokenRefreshed … ─► Disconnected (reason) ─► Reconnected ─► …

Credentials arrive already sealed (AES-GCM, in infrastructure): the domain only carries the
sealed text and never sees a token.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from uuid import UUID

from domain.base import Aggregate
from domain.content import Platform
from domain.errors import HeraldError, InvalidTransition
from domain.instants import require_utc
from domain.text import check_text

ACCOUNTS = uuid.UUID("6f1d7a52-3c1e-4f7e-9a51-0c8b7d3e2a10")


def account_id(workspace: str, name: str) -> UUID:
    """The account aggregate's id, derived from its workspace and the name posts refer to."""
    return uuid.uuid5(ACCOUNTS, f"{workspace}/{name}")


class AccountState(StrEnum):
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"


class AccountDisconnected(HeraldError):
    code = "account_disconnected"
    field = "account"


class Account(Aggregate):
    class Connected(Aggregate.Created):
        workspace: str
        name: str
        platform: Platform
        handle: str
        remote_user_id: str
        base_url: str
        sealed_credentials: str
        token_expires_at: datetime | None
        settings: dict[str, Any]

        def apply(self, account: Account) -> None:
            account.workspace = self.workspace
            account.name = self.name
            account.platform = self.platform
            account.handle = self.handle
            account.remote_user_id = self.remote_user_id
            account.base_url = self.base_url
            account.sealed_credentials = self.sealed_credentials
            account.token_expires_at = self.token_expires_at
            account.settings = dict(self.settings)
            account.state = AccountState.CONNECTED
            account.disconnect_reason = None
            account.remediation = None
            account.connected_since = self.timestamp

    class TokenRefreshed(Aggregate.Event):
        sealed_credentials: str
        token_expires_at: datetime | None

        def apply(self, account: Account) -> None:
            account.sealed_credentials = self.sealed_credentials
            account.token_expires_at = self.token_expires_at

    class Disconnected(Aggregate.Event):
        reason: str  # auth_revoked, refresh_unavailable, refresh_failed, refused_after_refresh, by_request
        remediation: str

        def apply(self, account: Account) -> None:
            account.state = AccountState.DISCONNECTED
            account.disconnect_reason = self.reason
            account.remediation = self.remediation

    class Reconnected(Aggregate.Event):
        sealed_credentials: str
        token_expires_at: datetime | None

        def apply(self, account: Account) -> None:
            account.state = AccountState.CONNECTED
            account.sealed_credentials = self.sealed_credentials
            account.token_expires_at = self.token_expires_at
            account.disconnect_reason = None
            account.remediation = None
            account.connected_since = self.timestamp

    if TYPE_CHECKING:
        workspace: str
        name: str
        platform: Platform
        handle: str
        remote_user_id: str
        base_url: str
        sealed_credentials: str
        token_expires_at: datetime | None
        settings: dict[str, Any]
        state: AccountState
        disconnect_reason: str | None
        remediation: str | None
        connected_since: datetime  # the last connection or reconnection

    @classmethod
    def connect(
        cls,
        *,
        workspace: str,
        name: str,
        platform: Platform,
        handle: str,
        remote_user_id: str,
        base_url: str,
        sealed_credentials: str,
        token_expires_at: datetime | None,
        settings: dict[str, Any],
        now: datetime,
    ) -> Account:
        expires = require_utc(token_expires_at, field="token_expires_at") if token_expires_at else None
        for field, value in (("name", name), ("handle", handle), ("remote_user_id", remote_user_id)):
            check_text(value, field=field)
        return cls._create(
            cls.Connected,
            id=account_id(workspace, name),
            timestamp=require_utc(now, field="now"),
            workspace=workspace,
            name=name,
            platform=platform,
            handle=handle,
            remote_user_id=remote_user_id,
            base_url=base_url,
            sealed_credentials=sealed_credentials,
            token_expires_at=expires,
            settings=settings,
        )

    def refresh_token(self, sealed_credentials: str, token_expires_at: datetime | None, *, now: datetime) -> None:
        if self.state is not AccountState.CONNECTED:
            raise AccountDisconnected(f"account {self.name} is disconnected; reconnect it instead")
        self.trigger_event(
            self.TokenRefreshed,
            timestamp=require_utc(now, field="now"),
            sealed_credentials=sealed_credentials,
            token_expires_at=token_expires_at,
        )

    def disconnect(self, reason: str, remediation: str, *, now: datetime) -> None:
        if self.state is AccountState.DISCONNECTED:
            raise InvalidTransition(f"account {self.name} is already disconnected ({self.disconnect_reason})")
        self.trigger_event(
            self.Disconnected, timestamp=require_utc(now, field="now"), reason=reason, remediation=remediation
        )

    def reconnect(self, sealed_credentials: str, token_expires_at: datetime | None, *, now: datetime) -> None:
        self.trigger_event(
            self.Reconnected,
            timestamp=require_utc(now, field="now"),
            sealed_credentials=sealed_credentials,
            token_expires_at=token_expires_at,
        )

    def needs_refresh(self, now: datetime, margin_seconds: float) -> bool:
        """True when the token expires within `margin_seconds` of `now`."""
        if self.token_expires_at is None:
            return False
        return (self.token_expires_at - now).total_seconds() <= margin_seconds
