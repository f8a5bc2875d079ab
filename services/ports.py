"""The ports: what the services need from the world, as small interfaces the wiring fills.

The event store (`EventLog`), the due index's bookings, each account's settings, the clock,
and the platform adapters (with what an adapter needs of an account).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from uuid import UUID

from domain.content import Content, Platform
from domain.errors import HeraldError
from domain.intent import PublishIntent
from domain.media import MediaInfo
from domain.outcomes import Observed, RemotePart, Search, Upload
from domain.validation import Problem

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


class EventLog(Protocol):
    """Aggregates as their events: the eventsourcing library's application, one per process.

    `save` raises the library's `IntegrityError` when another writer appended first; `get`
    raises its `AggregateNotFoundError` for an id with no events."""

    def save(self, *items: Any, **options: Any) -> Any:
        """One transaction; `due=` hints (`services.due_hints`) go out with its notification."""
        ...

    def get(self, aggregate_id: UUID, version: int | None = None) -> Any:
        """The aggregate at its newest version, or as it stood at `version`."""
        ...

    def get_many(self, ids: Sequence[UUID], known: Mapping[UUID, Any] | None = None) -> dict[UUID, Any]:
        """Aggregates by id; one in `known` still at its newest version comes back as it is."""
        ...

    def history(self, aggregate_id: UUID) -> list[Any]: ...
    def ids_created_by(self, event_class: type) -> set[UUID]: ...


class Bookings(Protocol):
    """What an account has booked: {post id: due instant} of its posts due at or after `since`."""

    def __call__(self, workspace: str, account: str, since: datetime) -> dict[UUID, datetime]: ...


class Seen(Protocol):
    """What this process has seen of the log's tail (an API process reads it every 0.2 s,
    `infrastructure/persistence/log_tail.py`). A copy of an aggregate read from the store is
    used again without asking the store while the tail shows no newer event of it: it is then
    as current as the tail, which other processes' changes reach within 0.2 s."""

    def mark(self) -> int | None:
        """Taken before a copy is read from the store, and kept with it; None: this process
        does not follow the tail, and no copy is used again unasked."""
        ...

    def unchanged(self, aggregate_id: UUID, version: int, mark: int | None) -> bool:
        """Whether the aggregate has no event past `version` (0: it had none) since `mark`."""
        ...


class Targets(Protocol):
    """Where Herald may send requests (`infrastructure/targets.py`): each check returns the
    URL to keep, or refuses with `target_refused` naming the field."""

    def account_url(self, url: str, platform: Platform | str) -> str: ...
    def webhook_url(self, url: str) -> str: ...


class AnyTarget:
    """Every URL taken as given (in-memory service tests; no network involved)."""

    def account_url(self, url: str, platform: Platform | str) -> str:
        return url.rstrip("/")

    def webhook_url(self, url: str) -> str:
        return url


class AccountSettings(Protocol):
    """{(workspace, account): settings} of known accounts (quota_limit, max_characters…)."""

    def __call__(self, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]: ...


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


class LookupRefused(LookupError):
    """The platform refused a look-up's credentials (401): a refresh may help."""


class RefreshFailed(HeraldError):
    """The platform refused a login or a refresh (the refresh token was revoked or expired,
    or the platform could not be reached)."""

    code = "login_failed"
    field = "credentials"


class RefreshUnanswered(HeraldError):
    """The platform did not answer a refresh: no answer, a 5xx or a 429. The token may still be
    good, so the account stays connected and the refresh is tried again with the next attempt.
    Were the refresh token rotated by a refresh whose answer was lost, the next one is refused,
    and only then is the account disconnected."""

    code = "refresh_unanswered"
    field = "credentials"


class Progress(Protocol):
    """What an adapter reports while it publishes, so it is recorded before the attempt ends."""

    async def container(self, part: int, container_id: str) -> None:
        """A container (Threads, Instagram) exists for this part: publishing it is what shows."""

    async def part_live(self, part: RemotePart) -> None:
        """One part of a multi-part post is live (reported for threads only)."""

    async def uploaded(self, part: int, index: int, upload: Upload) -> None:
        """File `index` of `part` reached the platform (reusable until it expires)."""

    async def first_comment(self, remote: RemotePart | None, observed: Observed | None) -> None:
        """The first comment went (`remote`), or did not (`observed` says why)."""


class MediaSource(Protocol):
    """The library's files, as adapters need them: the bytes, the facts, a public URL."""

    async def read(self, workspace: str, media_id: str) -> bytes: ...
    async def info(self, workspace: str, media_id: str) -> MediaInfo: ...
    def public_url(self, workspace: str, media_id: str) -> str:
        """An unguessable URL where the platform fetches the file (Threads, Instagram), valid
        for a while."""
        ...


class PlatformAdapter(Protocol):
    platform: Platform
    limits: tuple[int, timedelta]  # posts per rolling window
    has_refresh: bool

    async def publish(self, intent: PublishIntent, account: AccountAccess, progress: Progress) -> Observed:
        """Publish the intent's parts not yet live, in order, each replying to the one before;
        ACCEPTED only when every part is live, else what the first part that did not go saw."""
        ...

    async def find(self, intent: PublishIntent, account: AccountAccess) -> Search:
        """Look for the intent's parts over the whole window in which its attempts could have
        landed (from `intent.since()` to now), paging as the platform allows; say whether the
        look was complete. Raises `LookupError` when the platform did not answer."""
        ...

    def validate(self, content: Content, account: AccountAccess) -> list[Problem]: ...
    async def refresh(self, account: AccountAccess) -> Refreshed: ...


class Share(Protocol):
    """This dispatcher's share of the accounts among the live dispatchers
    (`infrastructure/persistence/partitions.py`)."""

    def share(self) -> tuple[int, int] | None:
        """(its index, how many are live), or None to claim for every account (blocking)."""
        ...

    def folds(self) -> bool:
        """Whether this dispatcher keeps the shared due index folded; the others only read it."""
        ...


class Metrics(Protocol):
    """What the services count for operators (Prometheus, in `infrastructure/metrics.py`).
    Labels are platforms, outcomes and reasons: never a post, an account or a workspace."""

    def attempted(self, platform: str, outcome: str, due_lag: float | None) -> None:
        """An attempt was answered: its outcome, and (a first attempt) how many seconds after its
        due time it was sent."""
        ...

    def paused(self, platform: str) -> None:
        """An account was paused after the platform's 429."""
        ...

    def held_back(self, accounts: int) -> None:
        """How many accounts the pacer holds back now: a full posting window, or a 429's pause.
        Pacing logs nothing, so this is where an account kept waiting shows."""
        ...

    def claim_refused(self, code: str) -> None:
        """A claim was refused (its code: another worker had the post, or a lagging due index
        listed a post already done). Nothing is sent for it; many say the work is wasted."""
        ...

    def webhook_delivered(self, outcome: str) -> None: ...


class NoMetrics:
    """Counts nothing: the default where no metrics are wired (tests, one-shot commands)."""

    def attempted(self, platform: str, outcome: str, due_lag: float | None) -> None:
        pass

    def paused(self, platform: str) -> None:
        pass

    def held_back(self, accounts: int) -> None:
        pass

    def claim_refused(self, code: str) -> None:
        pass

    def webhook_delivered(self, outcome: str) -> None:
        pass
