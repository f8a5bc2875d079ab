"""Where a post goes: its account's platform adapter, with fresh credentials, or held.

A disconnected (or unknown) account holds its queued posts instead of burning them: they go
out if it is reconnected before their deadline, and fail with its reason otherwise. A token
about to expire is refreshed first; a platform with no refresh flow disconnects the account
with a "reconnect" remedy.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from eventsourcing.persistence import IntegrityError

from domain.account import Account, AccountState
from domain.content import Platform
from domain.errors import HeraldError
from domain.intent import PublishIntent
from domain.outcomes import Observed, RemotePost
from services.account_service import AccountService
from services.dispatching import DispatchCommands
from services.ports import AccountAccess, Clock, PlatformAdapter, RefreshFailed

RECONNECT = "Reconnect the account (herald accounts reconnect); held posts then go out if still before their deadline."


class Route(Protocol):
    async def publish(self, intent: PublishIntent) -> Observed: ...
    async def find(self, intent: PublishIntent) -> RemotePost | None: ...


@dataclass(frozen=True)
class Held:
    reason: str  # account_disconnected, account_unknown
    detail: str


Target = tuple[str, str, str]  # workspace, account, platform


class Router(Protocol):
    async def route_many(self, targets: Iterable[Target]) -> dict[Target, Route | Held]: ...
    async def revoked(self, workspace: str, account: str) -> None: ...


async def route_of(router: Router, workspace: str, account: str, platform: str) -> Route | Held:
    target = (workspace, account, platform)
    return (await router.route_many([target]))[target]


class FixedRouter:
    """Every post to one place (the generic platform simulator): no accounts involved."""

    def __init__(self, target: Route) -> None:
        self.target = target

    async def route_many(self, targets: Iterable[Target]) -> dict[Target, Route | Held]:
        return dict.fromkeys(targets, self.target)

    async def revoked(self, workspace: str, account: str) -> None:
        return None


class BoundAdapter:
    """An adapter bound to one account's access; Threads' containers are recorded as events."""

    def __init__(self, adapter: PlatformAdapter, access: AccountAccess, dispatch: DispatchCommands) -> None:
        self.adapter = adapter
        self.access = access
        self.dispatch = dispatch

    async def publish(self, intent: PublishIntent) -> Observed:
        if self.adapter.platform in (Platform.THREADS, Platform.INSTAGRAM):

            async def remember(container_id: str) -> None:
                await asyncio.to_thread(self.dispatch.prepare_container, intent.post_id, intent.attempt, container_id)

            return await self.adapter.publish(intent, self.access, remember=remember)  # type: ignore[call-arg]
        return await self.adapter.publish(intent, self.access)

    async def find(self, intent: PublishIntent) -> RemotePost | None:
        return await self.adapter.find(intent, self.access)


class AccountRouter:
    def __init__(
        self,
        accounts: AccountService,
        dispatch: DispatchCommands,
        adapters: dict[Platform, PlatformAdapter],
        *,
        clock: Clock,
        refresh_margin: timedelta = timedelta(minutes=5),
        fallback: Route | None = None,
    ) -> None:
        self.accounts = accounts
        self.dispatch = dispatch
        self.adapters = adapters
        self.clock = clock
        self.refresh_margin = refresh_margin
        self.fallback = fallback

    async def route_many(self, targets: Iterable[Target]) -> dict[Target, Route | Held]:
        """Each target's route; the accounts are read in one query (a batch spans many)."""
        targets = list(dict.fromkeys(targets))
        found = await asyncio.to_thread(self._accesses, {(workspace, name) for workspace, name, _ in targets})
        return {target: await self._route(target, found.get(target[:2])) for target in targets}

    async def _route(self, target: Target, found: tuple[Account, AccountAccess | None] | None) -> Route | Held:
        workspace, name, _ = target
        if found is None:
            if self.fallback is not None:
                return self.fallback
            return Held("account_unknown", f"no account {name!r} is connected in {workspace!r}")
        account, access = found
        if access is None:
            return Held("account_disconnected", f"{name} is disconnected ({account.disconnect_reason})")
        adapter = self.adapters[account.platform]
        if account.needs_refresh(self.clock(), self.refresh_margin.total_seconds()):
            refreshed = await self._refresh(adapter, access)
            if isinstance(refreshed, Held):
                return refreshed
            access = refreshed
        return BoundAdapter(adapter, access, self.dispatch)

    def _accesses(self, pairs: set[tuple[str, str]]) -> dict[tuple[str, str], tuple[Account, AccountAccess | None]]:
        """Each known account, and its access unless it is disconnected."""
        found: dict[tuple[str, str], tuple[Account, AccountAccess | None]] = {}
        for pair, account in self.accounts.many(pairs).items():
            connected = account.state is not AccountState.DISCONNECTED
            found[pair] = (account, self._access(account, self.accounts.unsealed(account)) if connected else None)
        return found

    async def revoked(self, workspace: str, account: str) -> None:
        """A 401 that no refresh fixes: the account is disconnected; its other posts wait."""
        await asyncio.to_thread(self._disconnect, workspace, account, "auth_revoked", RECONNECT)

    @staticmethod
    def _access(account: Account, credentials: dict[str, Any]) -> AccountAccess:
        return AccountAccess(
            workspace=account.workspace,
            name=account.name,
            platform=account.platform,
            handle=account.handle,
            remote_user_id=account.remote_user_id,
            base_url=account.base_url,
            credentials=credentials,
            settings=dict(account.settings),
            token_expires_at=account.token_expires_at,
        )

    async def _refresh(self, adapter: PlatformAdapter, access: AccountAccess) -> AccountAccess | Held:
        if not adapter.has_refresh:
            await asyncio.to_thread(self._disconnect, access.workspace, access.name, "refresh_unavailable", RECONNECT)
            return Held("account_disconnected", f"{access.platform.value} has no refresh flow; reconnect {access.name}")
        try:
            refreshed = await adapter.refresh(access)
        except (RefreshFailed, LookupError) as problem:
            await asyncio.to_thread(self._disconnect, access.workspace, access.name, "refresh_failed", RECONNECT)
            return Held("account_disconnected", str(problem))
        await asyncio.to_thread(
            self.accounts.refresh, access.workspace, access.name, refreshed.credentials, refreshed.expires_at
        )
        return AccountAccess(
            **{**access.__dict__, "credentials": refreshed.credentials, "token_expires_at": refreshed.expires_at}
        )

    def _disconnect(self, workspace: str, account: str, reason: str, remediation: str) -> None:
        with contextlib.suppress(HeraldError, IntegrityError):  # already done, maybe by another worker
            self.accounts.disconnect(workspace, account, reason, remediation)
