"""What the command service hands back: settings, command results and read-only views."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from pydantic import BaseModel

from domain.content import Content
from domain.decisions import RetryPolicy
from domain.errors import HeraldError
from domain.intent import PublishIntent
from domain.outcomes import Observed, RemotePart
from domain.post import Post, PostState


@dataclass(frozen=True)
class PostSettings:
    """How long a post may be late (grace), when edits stop (freeze), how long a claim lasts."""

    grace: timedelta = timedelta(hours=1)
    freeze: timedelta = timedelta(seconds=60)
    lease: timedelta = timedelta(seconds=60)
    retry_policy: RetryPolicy = field(default_factory=RetryPolicy)


@dataclass(frozen=True)
class OutcomeReport:
    post_id: UUID
    attempt: int
    observed: Observed


@dataclass(frozen=True)
class CommandResult:
    """One post's answer in a (batch) command: done, or refused with a searchable code."""

    post_id: UUID
    ok: bool
    state: str | None = None
    attempt: int | None = None
    code: str | None = None
    message: str | None = None
    intent: PublishIntent | None = None  # what a claimed post's attempt is to publish
    lease_until: datetime | None = None  # a claimed post's lease: its attempt must be sent before
    version: int | None = None  # the post's version once changed (a done result's)

    @classmethod
    def done(cls, post_id: UUID, post: Post) -> CommandResult:
        claimed = post.state is PostState.DISPATCHED
        return cls(
            post_id,
            True,
            state=post.state.value,
            attempt=post.attempt,
            intent=post.intent() if claimed else None,
            lease_until=post.lease_until if claimed else None,
            version=post.version,
        )

    @classmethod
    def refused(cls, post_id: UUID, error: HeraldError) -> CommandResult:
        return cls(post_id, False, code=error.code, message=error.message)

    @classmethod
    def broke(cls, post_id: UUID, problem: Exception) -> CommandResult:
        return cls(post_id, False, code="command_broke", message=f"{type(problem).__name__}: {problem}"[:300])

    @classmethod
    def lost_race(cls, post_id: UUID) -> CommandResult:
        return cls(
            post_id,
            False,
            code="already_claimed",
            message="another worker changed this post first; it was left to them",
        )


class PostView(BaseModel):
    """A post as it stands now, folded from its events."""

    id: UUID
    version: int
    workspace: str
    account: str
    platform: str
    state: str
    content: Content
    content_version: int
    external_id: str | None
    due_at: datetime | None
    deadline: datetime | None
    publish_key: str | None
    attempt: int
    worker: str | None
    lease_until: datetime | None
    next_attempt_at: datetime | None
    remote_id: str | None
    permalink: str | None
    reconciled: bool
    failure_reason: str | None
    remediation: str | None
    waiting_for: str | None = None  # a hold's reason, or why support must settle it
    parts: tuple[RemotePart, ...] = ()  # a thread's live parts
    category: str | None = None  # a queue never puts two of one category back to back
    redrive_of: UUID | None = None  # the failed post this one sends again
    redriven_as: UUID | None = None  # the new post that sends this failed one again

    @classmethod
    def of(cls, post: Post) -> PostView:
        fields = {
            name: getattr(post, name, None) for name in cls.model_fields if name not in ("id", "waiting_for", "parts")
        }
        waiting = post.hold_reason if post.state is PostState.HELD else post.attention
        parts = tuple(post.parts[n] for n in sorted(post.parts))
        return cls(id=post.id, waiting_for=waiting, parts=parts, **fields)


class EventRecord(BaseModel):
    """One stored event, named and dated, with everything it carried."""

    version: int
    name: str
    at: datetime
    data: dict[str, Any]

    @classmethod
    def of(cls, event: Any) -> EventRecord:
        data = event.model_dump(mode="json", exclude={"originator_id", "originator_version", "timestamp"})
        data.pop("originator_topic", None)
        return cls(
            version=event.originator_version,
            name=type(event).__name__,
            at=event.timestamp,
            data=data,
        )
