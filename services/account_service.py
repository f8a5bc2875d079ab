"""Accounts: connect, refresh, disconnect and reconnect, with credentials sealed before they
are stored. The sealer is injected (AES-GCM, in infrastructure); this module never sees a key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from pydantic import BaseModel

from domain.account import Account, account_id
from domain.content import Platform
from domain.errors import HeraldError
from services.ports import AnyTarget, Clock, EventLog, Seen, Targets, system_clock

DEFAULT_BASE_URLS = {
    Platform.X: "https://api.x.com",
    Platform.BLUESKY: "https://bsky.social",
    Platform.LINKEDIN: "https://api.linkedin.com",
    Platform.THREADS: "https://graph.threads.net",
    Platform.INSTAGRAM: "https://graph.facebook.com",
    Platform.FACEBOOK: "https://graph.facebook.com",
}


FOLDED_LIMIT = 100_000  # folded accounts kept for reads; past it the cache starts again

# accounts already read in the current unit of work (`AccountService.read_once`), missing ones as None
_READ: ContextVar[dict[UUID, Account | None] | None] = ContextVar("accounts_read", default=None)


class Sealer(Protocol):
    def seal(self, credentials: dict[str, Any], bound_to: str) -> str: ...
    def open(self, sealed: str, bound_to: str) -> dict[str, Any]: ...


class AccountNotFound(HeraldError):
    code = "account_not_found"
    field = "account"


class PlatformMismatch(HeraldError):
    code = "platform_mismatch"
    field = "platform"


class AccountExists(HeraldError):
    code = "account_exists"
    field = "name"


class AccountView(BaseModel):
    """An account as support sees it: never its credentials."""

    id: UUID
    workspace: str
    name: str
    platform: str
    handle: str
    remote_user_id: str
    base_url: str
    state: str
    token_expires_at: datetime | None
    disconnect_reason: str | None
    remediation: str | None
    settings: dict[str, Any]

    @classmethod
    def of(cls, account: Account) -> AccountView:
        fields = {name: getattr(account, name) for name in cls.model_fields if name != "id"}
        return cls(id=account.id, **fields)


class AccountService:
    def __init__(
        self,
        events: EventLog,
        *,
        sealer: Callable[[], Sealer],
        clock: Clock = system_clock,
        targets: Targets | None = None,
    ) -> None:
        self.events = events
        self.targets = targets or AnyTarget()
        self._sealer_factory = sealer
        self._sealer: Sealer | None = None
        self.clock = clock
        self._folded: dict[UUID, tuple[Any, int | None]] = {}  # accounts read for `many` (None: absent), with marks
        self.seen: Seen | None = None  # an API process's log tail: a held account is used unasked till it changes

    @property
    def sealer(self) -> Sealer:
        """Built on first use, so commands that need no key never ask for one."""
        if self._sealer is None:
            self._sealer = self._sealer_factory()
        return self._sealer

    def connect(
        self,
        *,
        name: str,
        platform: Platform | str,
        handle: str,
        remote_user_id: str,
        credentials: dict[str, Any],
        token_expires_at: datetime | None = None,
        base_url: str | None = None,
        settings: dict[str, Any] | None = None,
        workspace: str = "default",
    ) -> UUID:
        platform = Platform(platform)
        url = base_url or DEFAULT_BASE_URLS.get(platform)
        if not url:
            raise HeraldError(f"{platform.value} accounts need a base_url (the instance's address)", field="base_url")
        url = self.targets.account_url(url, platform)  # its token goes there: never a private address
        identity = account_id(workspace, name)
        if self._find(workspace, name) is not None:
            raise AccountExists(f"an account named {name!r} already exists in workspace {workspace!r}")
        account = Account.connect(
            workspace=workspace,
            name=name,
            platform=platform,
            handle=handle,
            remote_user_id=remote_user_id,
            base_url=url.rstrip("/"),
            sealed_credentials=self.sealer.seal(credentials, str(identity)),
            token_expires_at=token_expires_at,
            settings=settings or {},
            now=self.clock(),
        )
        try:
            self._save(account)
        except IntegrityError:  # connected by someone else a moment ago
            raise AccountExists(f"an account named {name!r} already exists in workspace {workspace!r}") from None
        return account.id

    def refresh(self, workspace: str, name: str, credentials: dict[str, Any], expires: datetime | None) -> None:
        account = self._get(workspace, name)
        account.refresh_token(self.sealer.seal(credentials, str(account.id)), expires, now=self.clock())
        self._save(account)

    def disconnect(self, workspace: str, name: str, reason: str, remediation: str) -> None:
        account = self._get(workspace, name)
        account.disconnect(reason, remediation, now=self.clock())
        self._save(account)

    def reconnect(self, workspace: str, name: str, credentials: dict[str, Any], expires: datetime | None) -> None:
        account = self._get(workspace, name)
        account.reconnect(self.sealer.seal(credentials, str(account.id)), expires, now=self.clock())
        self._save(account)

    def get(self, workspace: str, name: str) -> AccountView:
        return AccountView.of(self._get(workspace, name))

    def require(self, workspace: str, name: str, platform: Platform | str) -> None:
        """Refuse a post for an account that is not in the workspace, or is on another
        platform: it would otherwise wait, silently, for an account that never comes."""
        found = self.many([(workspace, name)]).get((workspace, name))
        account = found if found is not None else self._get(workspace, name)  # _get says why it is missing
        if account.platform.value != str(Platform(platform).value):
            raise PlatformMismatch(
                f"account {name!r} is on {account.platform.value}, not {Platform(platform).value}", field="platform"
            )

    def find(self, workspace: str, name: str) -> AccountView | None:
        account = self._find(workspace, name)
        return AccountView.of(account) if account else None

    def settings_of(self, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        """{(workspace, name): settings} of many accounts, read in one query; unknown ones are
        left out. A dispatcher checks a whole batch's content against its accounts' limits."""
        return {pair: dict(account.settings) for pair, account in self.many(pairs).items()}

    def many(self, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Account]:
        """{(workspace, name): account} of many accounts, in one query; unknown ones left out."""
        wanted = {account_id(workspace, name): (workspace, name) for workspace, name in pairs}
        read = _READ.get()
        if read is None:
            found: dict[UUID, Account | None] = dict(self._fetch(list(wanted)))
        else:
            missing = [i for i in wanted if i not in read]
            fetched = self._fetch(missing) if missing else {}
            read.update({i: fetched.get(i) for i in missing})
            found = {i: read[i] for i in wanted}
        return {wanted[i]: account for i, account in found.items() if isinstance(account, Account)}

    def _fetch(self, ids: list[UUID]) -> dict[UUID, Any]:
        """The accounts as stored now. The query runs every time, so a change made by any
        process is seen at once; an account whose newest event is the version already held
        here is not decoded and folded again (the cache holds folded accounts, never mutated).

        A process that follows the log's tail (`seen`: an API process) asks no query for an
        account it holds while the tail shows no newer event of it, so a change made elsewhere
        is seen as soon as the tail has passed it (0.2 s at most); its own changes at once."""
        held, seen = self._folded, self.seen
        trusted: dict[UUID, Any] = {}  # an account absent when read is held as None, and trusted so too
        if seen is not None:
            trusted = {i: h[0] for i in ids if (h := held.get(i)) and seen.unchanged(i, _version(h[0]), h[1])}
        asked = [i for i in ids if i not in trusted]
        if not asked:
            return {i: account for i, account in trusted.items() if account is not None}
        mark = seen.mark() if seen is not None else None  # before the read: what follows it, the tail sees
        known = {i: h[0] for i in asked if (h := held.get(i)) is not None and h[0] is not None}
        read = self.events.get_many(asked, known=known)
        if len(held) > FOLDED_LIMIT:
            held.clear()
        for i in asked:
            held[i] = (read.get(i), mark)
        return {i: account for i, account in (trusted | read).items() if account is not None}

    def _save(self, account: Account) -> None:
        """Saved; a copy held from before is let go, so this process reads its own change at once."""
        try:
            self.events.save(account)
        finally:
            self._folded.pop(account.id, None)

    @contextmanager
    def read_once(self) -> Iterator[None]:
        """Within it, each account is read from the store at most once: a request that checks,
        books and queues a post reads its account one time, not three. For reads only: a
        command that changes an account always reads it afresh."""
        token = _READ.set({})
        try:
            yield
        finally:
            _READ.reset(token)

    def credentials(self, workspace: str, name: str) -> dict[str, Any]:
        """The account's credentials, unsealed, for the platform adapter only."""
        return self.unsealed(self._get(workspace, name))

    def unsealed(self, account: Account) -> dict[str, Any]:
        return self.sealer.open(account.sealed_credentials, str(account.id))

    def all(self, workspace: str | None = None) -> list[AccountView]:
        """Every account (of one workspace), from the log's Connected events."""
        ids = list(self.events.ids_created_by(Account.Connected))
        views = [AccountView.of(account) for account in self.events.get_many(ids).values()]
        return sorted((v for v in views if workspace in (None, v.workspace)), key=lambda v: (v.workspace, v.name))

    def _find(self, workspace: str, name: str) -> Account | None:
        try:
            return self._get(workspace, name)
        except AccountNotFound:
            return None

    def _get(self, workspace: str, name: str) -> Account:
        try:
            account = self.events.get(account_id(workspace, name))
        except AggregateNotFoundError:
            raise AccountNotFound(
                f"no account {name!r} in workspace {workspace!r}; connect it first", field="account"
            ) from None
        if not isinstance(account, Account):
            raise AccountNotFound(f"no account {name!r} in workspace {workspace!r}")
        return account


def _version(account: Any) -> int:
    return 0 if account is None else int(account.version)
