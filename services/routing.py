"""Where a post goes: its account's platform adapter, with fresh credentials, or held.

One account's trouble stays with that account: a disconnected or unknown account, credentials
sealed with another key, or a platform with no adapter hold that account's posts (visibly, as
events) and no one else's. A token about to expire is refreshed first; a 401 is answered by one
refresh per account (shared by every post in flight) and the same request again; if no
refresh can help, the account is disconnected and its posts are held until it is reconnected.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from eventsourcing.persistence import IntegrityError

from domain.account import Account, AccountState
from domain.decisions import REMEDIATIONS, AccountStatus
from domain.engagement import Counts
from domain.errors import HeraldError
from domain.intent import PublishIntent
from domain.outcomes import Observation, Observed, RemotePart, Search, Upload
from services.account_service import AccountService
from services.dispatching import DispatchCommands
from services.ports import AccountAccess, Clock, LookupRefused, PlatformAdapter, RefreshFailed, RefreshUnanswered

log = logging.getLogger("herald.routing")


class Route(Protocol):
    async def publish(self, intent: PublishIntent) -> Observed: ...
    async def find(self, intent: PublishIntent) -> Search: ...


@dataclass(frozen=True)
class Held:
    reason: str  # account_disconnected, account_unknown, credentials_unreadable, platform_unsupported
    detail: str

    @property
    def remediation(self) -> str:
        return REMEDIATIONS[self.reason]


Target = tuple[str, str, str]  # workspace, account, platform


class Router(Protocol):
    async def route_many(self, targets: Iterable[Target]) -> dict[Target, Route | Held]: ...
    async def status(self, workspace: str, account: str) -> AccountStatus | None: ...


async def route_of(router: Router, workspace: str, account: str, platform: str) -> Route | Held:
    target = (workspace, account, platform)
    return (await router.route_many([target]))[target]


class CountsNotOffered(LookupError):
    """This Herald does not read the platform's counts (or the account does not allow it)."""


class FixedRouter:
    """Every post to one place (the generic platform simulator): no accounts involved."""

    def __init__(self, target: Route) -> None:
        self.target = target

    async def route_many(self, targets: Iterable[Target]) -> dict[Target, Route | Held]:
        return dict.fromkeys(targets, self.target)

    async def status(self, workspace: str, account: str) -> AccountStatus | None:
        return None  # no accounts: a hold here ends only at the post's deadline


class AttemptProgress:
    """What an adapter reports while it publishes one attempt, recorded as events at once:
    each container it makes (Threads, Instagram), each file it uploads, each part of a thread
    that goes live, and the first comment."""

    def __init__(self, dispatch: DispatchCommands, intent: PublishIntent) -> None:
        self.dispatch = dispatch
        self.intent = intent
        self.parts: list[RemotePart] = []
        self.containers: dict[int, str] = {}
        self.uploads: dict[str, Upload] = {}
        self.commented = False

    async def container(self, part: int, container_id: str) -> None:
        post, attempt = self.intent.post_id, self.intent.attempt
        await asyncio.to_thread(self.dispatch.prepare_container, post, attempt, container_id, part)
        self.containers[part] = container_id

    async def part_live(self, part: RemotePart) -> None:
        await asyncio.to_thread(self.dispatch.record_part, self.intent.post_id, self.intent.attempt, part)
        self.parts.append(part)

    async def uploaded(self, part: int, index: int, upload: Upload) -> None:
        post, attempt = self.intent.post_id, self.intent.attempt
        await asyncio.to_thread(
            self.dispatch.record_upload, post, attempt, part, index, upload.remote_id, upload.expires_at
        )
        self.uploads[f"{part}:{index}"] = upload

    async def first_comment(self, remote: RemotePart | None, observed: Observed | None) -> None:
        post, attempt = self.intent.post_id, self.intent.attempt
        remote_id, permalink = (remote.remote_id, remote.permalink) if remote else (None, None)
        await asyncio.to_thread(self.dispatch.record_first_comment, post, attempt, remote_id, permalink, observed)
        self.commented = True

    def resumed(self) -> PublishIntent:
        """The intent again, knowing what this attempt already made live."""
        return self.intent.model_copy(
            update={
                "live": (*self.intent.live, *self.parts),
                "containers": {**self.intent.containers, **self.containers},
                "uploads": {**self.intent.uploads, **self.uploads},
                "comment_done": self.intent.comment_done or self.commented,
            }
        )


def unanswered_refresh(refused: Observed, problem: RefreshUnanswered) -> Observed:
    """The attempt whose token was refused, when the platform did not answer the refresh: the
    post was refused before acceptance, so nothing of it can be live. It is tried again after
    the policy's backoff, as after any send that did not reach the platform, and the account
    stays connected (a 5xx or a timeout says nothing against its refresh token)."""
    return refused.model_copy(
        update={"kind": Observation.CONNECT_ERROR, "message": f"the token was refused; {problem.message}"[:300]}
    )


UNANSWERED_PAUSE = timedelta(seconds=30)  # how long a refresh that got no answer is not asked again


class BoundAdapter:
    """An adapter bound to one account's access."""

    def __init__(
        self, adapter: PlatformAdapter, access: AccountAccess, router: AccountRouter, dispatch: DispatchCommands
    ) -> None:
        self.adapter = adapter
        self.access = access
        self.router = router
        self.dispatch = dispatch

    async def publish(self, intent: PublishIntent) -> Observed:
        progress = AttemptProgress(self.dispatch, intent)
        observed = await self._publish(intent, progress)
        if observed.kind is Observation.AUTH_REVOKED:
            try:
                fresh = await self.router.renewed(self.adapter, self.access)
            except RefreshUnanswered as problem:  # refused before acceptance, and tried again later
                return unanswered_refresh(observed, problem)
            except HeraldError:  # its credentials cannot be opened now: held like any 401
                fresh = None
            if fresh is not None:  # refused before acceptance: the same request again, same key
                self.access = fresh
                again = await self._publish(progress.resumed(), progress)
                observed = again.model_copy(update={"auth_refreshed": True})
                if again.kind is Observation.AUTH_REVOKED:
                    # the platform refuses the token it has just issued: only its owner can mend
                    # that, so the account is disconnected (announced) and its posts held until
                    # a reconnect releases them; a connected account never hides a held post
                    await asyncio.to_thread(self.router.disconnect, fresh, "refused_after_refresh")
        return observed

    async def _publish(self, intent: PublishIntent, progress: AttemptProgress) -> Observed:
        try:
            return await self.adapter.publish(intent, self.access, progress)
        except Exception as problem:  # the adapter broke mid-attempt: the request may have left
            log.exception("the adapter failed mid-attempt", extra=intent.log_fields())
            return Observed(kind=Observation.ADAPTER_ERROR, message=f"{type(problem).__name__}: {problem}"[:300])

    async def room(self) -> int | None:
        """Posts the account may still publish now, where the platform says (Instagram's
        content_publishing_limit); None where it does not."""
        ask = getattr(self.adapter, "room", None)
        if ask is None:
            return None
        try:
            found: int | None = await ask(self.access)
        except Exception:  # an adapter bug stays with this account: claim as if unknown
            log.exception("the %s adapter failed reading the account's room", self.adapter.platform.value)
            return None
        return found

    async def counts(self, remote_id: str) -> Counts | None:
        """The platform's counts of one post (None: it is gone); `CountsNotOffered` where this
        Herald does not read them for the platform."""
        ask = getattr(self.adapter, "counts", None)
        if ask is None:
            raise CountsNotOffered(f"Herald does not read {self.adapter.platform.value}'s counts yet")
        found: Counts | None = await self._refreshed_once(lambda access: ask(remote_id, access))
        return found

    async def find(self, intent: PublishIntent) -> Search:
        found: Search = await self._refreshed_once(lambda access: self.adapter.find(intent, access))
        return found

    async def _refreshed_once(self, read: Callable[[AccountAccess], Awaitable[Any]]) -> Any:
        """A read of the platform; when its token is refused, refresh once and read again."""
        try:
            return await read(self.access)
        except LookupRefused:
            try:
                fresh = await self.router.renewed(self.adapter, self.access)
            except HeraldError:
                fresh = None
            if fresh is None:
                raise
            self.access = fresh
            return await read(fresh)


class AccountRouter:
    def __init__(
        self,
        accounts: AccountService,
        dispatch: DispatchCommands,
        adapters: dict[Any, PlatformAdapter],
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
        self._renewing: dict[tuple[str, str], asyncio.Lock] = {}
        # when each account's refresh last got no answer: the posts in flight behind it are
        # told so at once for a while, instead of each asking a platform that is not answering
        self._unanswered: dict[tuple[str, str], tuple[datetime, RefreshUnanswered]] = {}

    async def route_many(self, targets: Iterable[Target]) -> dict[Target, Route | Held]:
        """Each target's route; the accounts are read in one query (a batch spans many)."""
        targets = list(dict.fromkeys(targets))
        found = await asyncio.to_thread(self.accounts.many, {(workspace, name) for workspace, name, _ in targets})
        routes: dict[Target, Route | Held] = {}
        for target in targets:
            try:
                routes[target] = await self._route(target, found.get(target[:2]))
            except HeraldError as problem:  # this account's trouble (credentials unreadable): its own
                routes[target] = Held("credentials_unreadable", problem.message)
        return routes

    async def _route(self, target: Target, account: Account | None) -> Route | Held:
        workspace, name, _ = target
        if account is None:
            if self.fallback is not None:
                return self.fallback
            return Held("account_unknown", f"no account {name!r} is connected in {workspace!r}")
        if account.state is AccountState.DISCONNECTED:
            return Held("account_disconnected", f"{name} is disconnected ({account.disconnect_reason})")
        adapter = self.adapters.get(account.platform)
        if adapter is None:
            return Held("platform_unsupported", f"this Herald has no {account.platform.value} adapter")
        access = self._access(account, await asyncio.to_thread(self.accounts.unsealed, account))
        if account.needs_refresh(self.clock(), self.refresh_margin.total_seconds()):
            try:
                fresh = await self.renewed(adapter, access, without_refresh="refresh_unavailable")
            except RefreshUnanswered:  # the token as it is: a refused one is refreshed again at its 401
                fresh = access
            if fresh is None:
                return Held("account_disconnected", f"{name}'s token expires and could not be refreshed")
            access = fresh
        return BoundAdapter(adapter, access, self, self.dispatch)

    async def status(self, workspace: str, account: str) -> AccountStatus | None:
        found = await asyncio.to_thread(self.accounts.many, [(workspace, account)])
        if (workspace, account) not in found:
            return AccountStatus(exists=False, connected=False, connected_since=None, readable=False, supported=False)
        known = found[(workspace, account)]
        try:
            await asyncio.to_thread(self.accounts.unsealed, known)
            readable = True
        except HeraldError:
            readable = False
        return AccountStatus(
            exists=True,
            connected=known.state is AccountState.CONNECTED,
            connected_since=known.connected_since,
            readable=readable,
            supported=known.platform in self.adapters,
        )

    async def renewed(
        self, adapter: PlatformAdapter, access: AccountAccess, without_refresh: str = "auth_revoked"
    ) -> AccountAccess | None:
        """Fresh credentials for an account whose token was refused or is expiring: one refresh
        per account at a time, shared by every post in flight; None when no refresh can help
        (the account is then disconnected, and its posts are held)."""
        key = (access.workspace, access.name)
        async with self._renewing.setdefault(key, asyncio.Lock()):
            current = await asyncio.to_thread(self._current, access)
            if current is None or current.credentials != access.credentials:
                return current  # disconnected meanwhile, or refreshed meanwhile (here or elsewhere)
            if not adapter.has_refresh:
                await asyncio.to_thread(self.disconnect, access, without_refresh)
                return None
            last = self._unanswered.get(key)
            if last is not None and self.clock() - last[0] < UNANSWERED_PAUSE:
                raise last[1]
            try:
                refreshed = await adapter.refresh(access)
            except RefreshUnanswered as problem:
                log.warning("the refresh of %s/%s got no answer; the account stays connected", *key)
                self._unanswered[key] = (self.clock(), problem)
                raise
            except Exception as problem:  # refused, or an answer that cannot be read (no token, odd expiry)
                if not isinstance(problem, RefreshFailed):
                    log.warning("the refresh of %s/%s answered what cannot be read", *key, exc_info=True)
                current = await asyncio.to_thread(self._current, access)
                if current is not None and current.credentials != access.credentials:
                    return current  # another process refreshed first (X rotates refresh tokens)
                await asyncio.to_thread(self.disconnect, access, "refresh_failed")
                return None
            self._unanswered.pop(key, None)
            await asyncio.to_thread(
                self.accounts.refresh, access.workspace, access.name, refreshed.credentials, refreshed.expires_at
            )
            return AccountAccess(
                **{**access.__dict__, "credentials": refreshed.credentials, "token_expires_at": refreshed.expires_at}
            )

    def _current(self, access: AccountAccess) -> AccountAccess | None:
        """The account's access as stored now; None when it is gone or disconnected."""
        found = self.accounts.many([(access.workspace, access.name)]).get((access.workspace, access.name))
        if found is None or found.state is AccountState.DISCONNECTED:
            return None
        return self._access(found, self.accounts.unsealed(found))

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

    def disconnect(self, access: AccountAccess, reason: str) -> None:
        remedy = REMEDIATIONS["account_disconnected"]
        with contextlib.suppress(HeraldError, IntegrityError):  # already done, maybe by another worker
            self.accounts.disconnect(access.workspace, access.name, reason, remedy)
