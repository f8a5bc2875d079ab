"""What a dispatcher observed when it tried to publish: the input to every outcome decision."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from domain.base import Immutable


class Observation(StrEnum):
    ACCEPTED = "accepted"  # 2xx with the platform's post id
    CONNECT_ERROR = "connect_error"  # failed before any byte was sent
    TIMEOUT_AFTER_SEND = "timeout_after_send"  # the request left; no answer came back
    RATE_LIMITED = "rate_limited"  # 429
    SERVER_ERROR = "server_error"  # 5xx
    AUTH_REVOKED = "auth_revoked"  # 401 that a token refresh cannot fix
    REJECTED = "rejected"  # 400/403/422: the platform refuses this content


class Observed(Immutable):
    """One attempt's observable result, as the platform adapter saw it."""

    kind: Observation
    http_status: int | None = None
    platform_code: str | None = None
    message: str | None = None
    remote_id: str | None = None
    permalink: str | None = None
    retry_at: datetime | None = None  # from Retry-After or X's x-rate-limit-reset


class RemotePost(Immutable):
    """A post found on the platform by the reconciler."""

    remote_id: str
    permalink: str | None = None
