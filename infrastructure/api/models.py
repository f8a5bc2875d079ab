"""The API's request and response bodies. The OpenAPI document is generated from these."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from domain.content import Content, MediaRef, Platform, ThreadPart
from domain.errors import HeraldError
from domain.text import check_text

# no C0 control but tab, line feed and carriage return, no DEL or C1 control: what the stores
# can hold (domain/text.py), said in the schema so that clients and fuzzers know it too
CLEAN = "^[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f]*$"


def _documented_clean(schema: dict[str, Any]) -> None:
    """Add the CLEAN pattern to every free-text string of a model's JSON schema."""
    for value in schema.get("properties", {}).values():
        for option in value.get("anyOf", [value]):
            if option.get("type") == "string" and not {"enum", "const", "pattern", "format"} & set(option):
                option["pattern"] = CLEAN


class Strict(BaseModel):
    """A request body: unknown fields refused, and no text the stores cannot hold (422
    invalid_characters naming the field, before anything reads it)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_documented_clean)

    @field_validator("*", mode="after")
    @classmethod
    def _clean(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, str):
            try:
                check_text(value, field=info.field_name or "body")
            except HeraldError as problem:
                raise PydanticCustomError("invalid_characters", problem.message) from None
        return value


class MediaIn(Strict):
    ref: str = Field(min_length=1, max_length=2048, description="the id of a media in your library (POST /media)")
    alt_text: str | None = Field(default=None, max_length=5000)
    kind: Literal["image", "video", "gif"] = "image"


class ThreadPartIn(Strict):
    text: str = Field(max_length=10_000)
    media: list[MediaIn] = Field(default_factory=list, max_length=20)


class ContentIn(Strict):
    text: str = Field(max_length=10_000)
    media: list[MediaIn] = Field(default_factory=list, max_length=20)
    thread: list[ThreadPartIn] = Field(default_factory=list, max_length=50, description="follow-up parts, in order")
    first_comment: str | None = Field(
        default=None,
        max_length=10_000,
        description="sent once the post is live, as a comment (or a self-reply where comments are replies);"
        " its failure never fails the post",
    )

    def to_domain(self) -> Content:
        return Content(
            text=self.text,
            first_comment=self.first_comment,
            media=tuple(MediaRef(**m.model_dump()) for m in self.media),
            thread=tuple(
                ThreadPart(text=p.text, media=tuple(MediaRef(**m.model_dump()) for m in p.media)) for p in self.thread
            ),
        )


class CreatePost(Strict):
    account: str = Field(min_length=1, max_length=200, description="the connected account's name")
    platform: Platform
    content: ContentIn
    mode: Literal["scheduled", "draft", "now", "queue"] = Field(
        default="scheduled",
        description="scheduled (at scheduled_at), draft, now, or queue (the account's next free slot)",
    )
    scheduled_at: str | None = Field(
        default=None,
        max_length=64,
        description="ISO 8601 with an offset (2026-12-01T09:00:00+01:00), or a local time with `timezone`",
    )
    timezone: str | None = Field(default=None, max_length=64, description="IANA zone name, e.g. Europe/Paris")
    external_id: str | None = Field(default=None, max_length=200)
    category: str | None = Field(
        default=None, min_length=1, max_length=100, description="a queue never puts two of one category back to back"
    )
    when_full: Literal["refuse", "move"] = Field(
        default="refuse",
        description="if the account's posting window is full: refuse, or move to the next free instant",
    )


class ScheduleDraft(Strict):
    scheduled_at: str = Field(
        max_length=64,
        description="ISO 8601 with an offset (2026-12-01T09:00:00+01:00), or a local time with `timezone`",
    )
    timezone: str | None = Field(default=None, max_length=64, description="IANA zone name, e.g. Europe/Paris")
    when_full: Literal["refuse", "move"] = Field(
        default="refuse",
        description="if the account's posting window is full: refuse, or move to the next free instant",
    )


class Redrive(Strict):
    scheduled_at: str | None = Field(
        default=None, max_length=64, description="when to send it again (ISO 8601); default: now"
    )
    timezone: str | None = Field(default=None, max_length=64, description="IANA zone name, e.g. Europe/Paris")


class RedriveMany(Strict):
    reason: str = Field(pattern=r"^[a-z_]{1,100}$", description="a failure_reason, e.g. retries_exhausted")
    since: str | None = Field(default=None, max_length=64, description="only posts due at or after this instant")
    scheduled_at: str | None = Field(default=None, max_length=64, description="when to send them; default: now")
    timezone: str | None = Field(default=None, max_length=64, description="IANA zone name for the instants")
    limit: int = Field(default=100, ge=1, le=500)


class RedrivenOut(BaseModel):
    post_id: UUID
    new_post_id: UUID


class RedriveRefusedOut(BaseModel):
    post_id: UUID
    code: str
    message: str


class RedriveManyOut(BaseModel):
    redriven: list[RedrivenOut]
    refused: list[RedriveRefusedOut]
    more: bool = Field(description="other failed posts with this reason wait: send the request again")


class Decision(Strict):
    comment: str = Field(default="", max_length=2000, description="why: shown in the post's timeline")


class PatchPost(Strict):
    content: ContentIn | None = None
    scheduled_at: str | None = Field(default=None, max_length=64)
    timezone: str | None = Field(default=None, max_length=64)
    when_full: Literal["refuse", "move"] = "refuse"


class PostOut(BaseModel):
    id: UUID
    version: int
    account: str
    platform: str
    state: str
    content: Content
    content_version: int
    external_id: str | None
    due_at: datetime | None
    deadline: datetime | None
    attempt: int
    remote_id: str | None
    permalink: str | None
    reconciled: bool
    failure_reason: str | None
    remediation: str | None
    waiting_for: str | None = Field(
        default=None, description="why a held post waits, or why an ambiguous one waits for support"
    )
    category: str | None = Field(default=None, description="its category, for queues")
    redrive_of: UUID | None = Field(default=None, description="the failed post this one sends again")
    redriven_as: UUID | None = Field(default=None, description="the post that sends this failed one again")


class PostPage(BaseModel):
    items: list[PostOut]
    next_cursor: str | None


class ProblemOut(BaseModel):
    code: str
    part: int
    field: str
    limit: int | None
    actual: int | None
    message: str


class ErrorOut(BaseModel):
    code: str = Field(description="stable, searchable: post_frozen, idempotency_key_reused, …")
    message: str
    field: str | None
    problems: list[ProblemOut] | None = None
    next_free: datetime | None = None


class TimelineRow(BaseModel):
    at: str
    event: str
    state: str
    attempt: int | None
    worker: str | None
    http_status: int | None
    error_code: str | None
    explanation: str


class TimelineOut(BaseModel):
    summary: dict[str, Any]
    events: list[TimelineRow]


class WaitingOut(BaseModel):
    post_id: UUID
    account: str
    platform: str
    state: str = Field(description="held, or ambiguous (waiting for support to settle it)")
    reason: str = Field(
        description="why: a hold's reason, or unverifiable, platform_says_published, ambiguity_repeated"
    )
    since: datetime
    deadline: datetime | None


class AttentionOut(BaseModel):
    items: list[WaitingOut]


class CancelPost(Strict):
    reason: str = Field(default="canceled through the API", min_length=1, max_length=500)


class Settle(Strict):
    live: StrictBool = Field(description="whether the post is on the platform, as seen there")
    remote_id: str | None = Field(default=None, min_length=1, max_length=500, description="its id there, if live")
    permalink: str | None = Field(default=None, max_length=2000)
    note: str = Field(min_length=1, max_length=2000, description="what was checked, for the timeline")


class ConnectAccount(Strict):
    name: str = Field(min_length=1, max_length=200)
    platform: Platform
    handle: str = Field(min_length=1, max_length=200)
    remote_user_id: str = Field(min_length=1, max_length=200)
    base_url: str | None = Field(default=None, max_length=500)
    credentials: dict[str, str] = Field(min_length=1, max_length=20)
    expires_in: float | None = Field(default=None, gt=0, le=10 * 365 * 86400)
    settings: dict[str, int] = Field(default_factory=dict, max_length=20)


class Reconnect(Strict):
    credentials: dict[str, str] = Field(min_length=1, max_length=20)
    expires_in: float | None = Field(default=None, gt=0, le=10 * 365 * 86400)


class AccountOut(BaseModel):
    name: str
    platform: str
    handle: str
    remote_user_id: str
    base_url: str
    state: str
    token_expires_at: datetime | None
    disconnect_reason: str | None
    remediation: str | None


class AccountList(BaseModel):
    items: list[AccountOut]


class DryRun(Strict):
    items: list[CreatePost] = Field(min_length=1, max_length=1000)


class PlanIssue(BaseModel):
    index: int
    code: str
    message: str
    post_id: UUID | None = None
    next_free: datetime | None = None
    problems: list[ProblemOut] | None = None


class QueueSlotOut(BaseModel):
    index: int
    account: str
    slot: datetime = Field(description="the queue slot this `mode: queue` item would take (UTC)")


class DryRunOut(BaseModel):
    earliest: datetime | None
    latest: datetime | None
    per_platform: dict[str, int]
    per_account: dict[str, int]
    per_day: dict[str, int]
    collisions: list[PlanIssue]
    quota_violations: list[PlanIssue]
    problems: list[PlanIssue]
    queue_slots: list[QueueSlotOut] = Field(
        default=[], description="the slots the plan's queued items would take, each account's in the plan's order"
    )


class BadRowOut(BaseModel):
    line: int = Field(description="the CSV line (the header is line 1), or the JSON list position from 1")
    field: str
    reason: str


class ImportOut(BaseModel):
    rows: int
    good: int
    bad: list[BadRowOut] = Field(description="the first 100 bad rows")
    bad_count: int
    dry_run: bool
    plan: DryRunOut | None = Field(description="what the good rows would do")
    made: int = Field(description="posts scheduled by this request")
    skipped: int = Field(description="rows whose post an earlier run of the same import made")
