"""Where a post goes: its account's platform adapter, with fresh credentials, or held.

A disconnected (or unknown) account holds its queued posts instead of burning them: they go
out if it is reconnected before their deadline, and fail with its reason otherwise. A token
about to expire is refreshed first; a platform with no refresh flow disconnects the account
with a "reconnect" remedy.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from eventsourcing.persistence import IntegrityError

from domain.account import AccountState
from domain.content import Platform
from domain.errors import HeraldError
from domain.intent import PublishIntent
from domain.outcomes import Observed, RemotePost
from services.account_service import AccountService, AccountView
from services.ports import AccountAccess, PlatformAdapter, RefreshFailed
from services.post_service import PostService

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

    def __init__(self, adapter: PlatformAdapter, access: AccountAccess, posts: PostService) -> None:
        self.adapter = adapter
        self.access = access
        self.posts = posts

    async def publish(self, intent: PublishIntent) -> Observed:
        if self.adapter.platform in (Platform.THREADS, Platform.INSTAGRAM):

            async def remember(container_id: str) -> None:
                await asyncio.to_thread(self.posts.prepare_container, intent.post_id, intent.attempt, container_id)

            return await self.adapter.publish(intent, self.access, remember=remember)  # type: ignore[call-arg]
        return await self.adapter.publish(intent, self.access)

    async def find(self, intent: PublishIntent) -> RemotePost | None:
        return await self.adapter.find(intent, self.access)


class AccountRouter:
    def __init__(
        self,
        accounts: AccountService,
        posts: PostService,
        adapters: dict[Platform, PlatformAdapter],
        *,
        refresh_margin: timedelta = timedelta(minutes=5),
        fallback: Route | None = None,
        clock: Callable[[], Any] | None = None,
    ) -> None:
        self.accounts = accounts
        self.posts = posts
        self.adapters = adapters
        self.refresh_margin = refresh_margin
        self.fallback = fallback
        self.clock = clock or posts.clock

    async def route_many(self, targets: Iterable[Target]) -> dict[Target, Route | Held]:
        """Each target's route; the accounts are read in one query (a batch spans many)."""
        targets = list(dict.fromkeys(targets))
        found = await asyncio.to_thread(self._accesses, {(workspace, name) for workspace, name, _ in targets})
        return {target: await self._route(target, found.get(target[:2])) for target in targets}

    async def _route(self, target: Target, found: tuple[AccountView, AccountAccess | None] | None) -> Route | Held:
        workspace, account, _ = target
        if found is None:
            if self.fallback is not None:
                return self.fallback
            return Held("account_unknown", f"no account {account!r} is connected in {workspace!r}")
        view, access = found
        if access is None:
            return Held("account_disconnected", f"{account} is disconnected ({view.disconnect_reason})")
        adapter = self.adapters[Platform(view.platform)]
        if view.token_expires_at and view.token_expires_at - self.clock() <= self.refresh_margin:
            refreshed = await self._refresh(adapter, access)
            if isinstance(refreshed, Held):
                return refreshed
            access = refreshed
        return BoundAdapter(adapter, access, self.posts)

    def _accesses(self, pairs: set[tuple[str, str]]) -> dict[tuple[str, str], tuple[AccountView, AccountAccess | None]]:
        """Each known account's view, and its access unless it is disconnected."""
        found: dict[tuple[str, str], tuple[AccountView, AccountAccess | None]] = {}
        for pair, account in self.accounts.many(pairs).items():
            view = AccountView.of(account)
            connected = view.state != AccountState.DISCONNECTED
            found[pair] = (view, self._access(view, self.accounts.unsealed(account)) if connected else None)
        return found

    async def revoked(self, workspace: str, account: str) -> None:
        """A 401 that no refresh fixes: the account is disconnected; its other posts wait."""
        await asyncio.to_thread(self._disconnect, workspace, account, "auth_revoked", RECONNECT)

    @staticmethod
    def _access(view: AccountView, credentials: dict[str, Any]) -> AccountAccess:
        return AccountAccess(
            workspace=view.workspace,
            name=view.name,
            platform=Platform(view.platform),
            handle=view.handle,
            remote_user_id=view.remote_user_id,
            base_url=view.base_url,
            credentials=credentials,
            settings=view.settings,
            token_expires_at=view.token_expires_at,
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
