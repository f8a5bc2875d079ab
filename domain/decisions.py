"""Pure decisions: what happens to a post after an observed outcome.

Every input is an argument (the clock's reading and the jitter seed included), so the decision
recorded in an event can be re-run over the log and must come out the same.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Literal, Protocol

from pydantic import Field

from domain.base import Immutable
from domain.outcomes import Observation, Observed, RemotePost


class RetryPolicy(Immutable):
    """Exponential backoff with jitter: base * 2^(n-1), capped, for at most `max_attempts` tries."""

    base_seconds: float = Field(default=5.0, gt=0)
    cap_seconds: float = Field(default=900.0, gt=0)
    max_attempts: int = Field(default=6, ge=1)
    jitter: float = Field(default=0.2, ge=0, le=1)  # fraction of the delay that may be shaved off

    def delay(self, failures: int, seed: int) -> timedelta:
        """The wait before the next try after `failures` counted failures (1 or more)."""
        exponential = min(self.cap_seconds, self.base_seconds * 2 ** (failures - 1))
        shave = exponential * self.jitter * random.Random(seed).random()
        return timedelta(seconds=exponential - shave)


class Deliver(Immutable):
    kind: Literal["deliver"] = "deliver"
    remote_id: str
    permalink: str | None
    evidence: str | None = None  # how the reconciler knows, when it was the reconciler


class Retry(Immutable):
    kind: Literal["retry"] = "retry"
    next_attempt_at: datetime
    counts_toward_limit: bool


class Ambiguous(Immutable):
    kind: Literal["ambiguous"] = "ambiguous"
    reason: str


class Fail(Immutable):
    kind: Literal["fail"] = "fail"
    reason: str
    remediation: str


class Release(Immutable):
    """The reconciler found no trace: try again under the same publish key."""

    kind: Literal["release"] = "release"
    evidence: str
    next_attempt_at: datetime


Decision = Deliver | Retry | Ambiguous | Fail

REMEDIATIONS: dict[str, str] = {
    "retries_exhausted": "The platform kept failing; check its status page, then reschedule the post.",
    "deadline_passed": "It could not go out before its deadline; reschedule it if it is still wanted.",
    "auth_revoked": "The account's access was revoked; reconnect the account, then reschedule.",
    "content_rejected": "The platform refused this content; edit it as the platform's message says.",
    "account_disconnected": "The account was disconnected; reconnect it, then reschedule.",
    "account_unknown": "No account with this name is connected; connect it (herald accounts add), then reschedule.",
}


def jitter_seed(publish_key: str, attempt: int) -> int:
    """The seed for an attempt's jitter: derived, not drawn, and recorded in the event anyway."""
    return int(hashlib.sha256(f"{publish_key}:{attempt}".encode()).hexdigest()[:12], 16)


def fail(reason: str) -> Fail:
    return Fail(reason=reason, remediation=REMEDIATIONS[reason])


def decide(
    observed: Observed,
    *,
    failures_so_far: int,
    deadline: datetime,
    policy: RetryPolicy,
    now: datetime,
    seed: int,
) -> Decision:
    """The next step for a post whose open attempt ended as `observed` (DESIGN.md's outcome table)."""
    kind = observed.kind
    if kind is Observation.ACCEPTED:
        if not observed.remote_id:
            return Ambiguous(reason="accepted_without_remote_id")
        return Deliver(remote_id=observed.remote_id, permalink=observed.permalink)
    if kind is Observation.TIMEOUT_AFTER_SEND:
        return Ambiguous(reason="timeout_after_send")
    if kind is Observation.AUTH_REVOKED:
        return fail("auth_revoked")
    if kind is Observation.REJECTED:
        return fail("content_rejected")
    if kind is Observation.RATE_LIMITED:
        # A 429 says nothing about the post; it waits for the reset and is not held against it.
        retry_at = observed.retry_at or now + policy.delay(failures_so_far + 1, seed)
        return _retry_before_deadline(max(retry_at, now), deadline, counts=False)
    # connect errors and 5xx: back off, and give up after the policy's attempts
    failures = failures_so_far + 1
    if failures >= policy.max_attempts:
        return fail("retries_exhausted")
    return _retry_before_deadline(now + policy.delay(failures, seed), deadline, counts=True)


def _retry_before_deadline(at: datetime, deadline: datetime, *, counts: bool) -> Decision:
    if at > deadline:
        return fail("deadline_passed")
    return Retry(next_attempt_at=at, counts_toward_limit=counts)


class HasMessage(Protocol):
    @property
    def message(self) -> str: ...


def refusal_at_claim(problems: Sequence[HasMessage]) -> Fail | None:
    """Content is checked again as a post is claimed: a problem then is final, never a retry."""
    if not problems:
        return None
    return Fail(reason="content_rejected", remediation="; ".join(problem.message for problem in problems))


def reconcile(
    found: RemotePost | None, *, publish_key: str, deadline: datetime, now: datetime
) -> Deliver | Release | Fail:
    """What the reconciler's look on the platform decides for an ambiguous post."""
    if found is not None:
        evidence = f"found on the platform by publish key {publish_key} as {found.remote_id}"
        return Deliver(remote_id=found.remote_id, permalink=found.permalink, evidence=evidence)
    if now <= deadline:
        evidence = f"no post with publish key {publish_key} on the platform at {now.isoformat()}"
        return Release(evidence=evidence, next_attempt_at=now)
    return fail("deadline_passed")
