"""What a dispatcher observed when it tried to publish, and what a reconciler found when it
looked: the inputs to every outcome decision."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from pydantic import field_validator

from domain.base import Immutable


class Observation(StrEnum):
    ACCEPTED = "accepted"  # 2xx with the platform's post id
    ALREADY_PUBLISHED = "already_published"  # the platform says this is already there (duplicate, key replay)
    CONNECT_ERROR = "connect_error"  # failed before any byte was sent
    TIMEOUT_AFTER_SEND = "timeout_after_send"  # the request left; no answer came back
    ADAPTER_ERROR = "adapter_error"  # the adapter itself broke mid-attempt: the request may have left
    RATE_LIMITED = "rate_limited"  # 429
    SERVER_ERROR = "server_error"  # 5xx
    AUTH_REVOKED = "auth_revoked"  # 401 that a token refresh could not fix
    REJECTED = "rejected"  # 400/403/422: the platform refuses this content


class Observed(Immutable):
    """One attempt's observable result, as the platform adapter saw it. For a multi-part post
    (a thread), `part` names the part the answer concerns (1 is the post itself)."""

    kind: Observation
    http_status: int | None = None
    platform_code: str | None = None
    message: str | None = None
    remote_id: str | None = None
    permalink: str | None = None
    retry_at: datetime | None = None  # from Retry-After or X's x-rate-limit-reset
    part: int | None = None
    auth_refreshed: bool = False  # a 401 was answered by refreshing the token and sending again

    @field_validator("retry_at")
    @classmethod
    def _in_utc(cls, at: datetime | None) -> datetime | None:
        """An instant without a zone is UTC, as platforms mean it: a naive one could not be
        weighed against the clock, and the decision would break instead of waiting."""
        return at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at


class RemotePost(Immutable):
    """A post found on the platform by the reconciler."""

    remote_id: str
    permalink: str | None = None


class Upload(Immutable):
    """A file uploaded to the platform for a post, reusable until it expires."""

    remote_id: str
    expires_at: datetime | None = None

    def usable(self, now: datetime) -> bool:
        return self.expires_at is None or self.expires_at > now


class RemotePart(Immutable):
    """One live part of a post on its platform (part 1 is the post itself)."""

    part: int
    remote_id: str
    permalink: str | None = None


class Search(Immutable):
    """What a reconciler's look on the platform found for an attempt that may have landed.

    `found` holds the parts it saw live. `complete` says whether it searched the whole window
    in which the attempt could have landed: only then does a part it did not see count as
    proven absent. `how` says what was read (or why the search could not be complete)."""

    found: tuple[RemotePart, ...] = ()
    complete: bool
    how: str
