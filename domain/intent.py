"""A publish intent: exactly what one attempt asks a platform to publish."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import Field

from domain.base import Immutable
from domain.content import Content, MediaRef, Platform
from domain.outcomes import RemotePart, Upload


class PublishIntent(Immutable):
    post_id: UUID
    account: str
    platform: Platform
    publish_key: str
    content: Content
    attempt: int
    due_at: datetime
    containers: dict[int, str] = Field(default_factory=dict)  # Threads/Instagram: part → an earlier container
    live: tuple[RemotePart, ...] = ()  # a thread's parts already live: the attempt resumes after them
    window_start: datetime | None = None  # the earliest instant an unsettled attempt could have landed
    workspace: str = "default"  # the account is `account` of this workspace
    uploads: dict[str, Upload] = Field(default_factory=dict)  # "part:index" → an earlier upload of that file
    comment_done: bool = False  # the first comment already went
    send_at: datetime | None = None  # not sent before this instant (a claim may be made a moment ahead)

    @property
    def parts(self) -> list[tuple[int, str]]:
        """(number, text) of every part the post makes, 1 being the post itself."""
        return list(enumerate([self.content.text, *(part.text for part in self.content.thread)], start=1))

    def log_fields(self) -> dict[str, str | int]:
        """What a log line about this attempt carries. Its request id is the publish key: the
        idempotency key the platform is sent, so a line can be matched with the platform's."""
        return {
            "post_id": str(self.post_id),
            "workspace": self.workspace,
            "account": self.account,
            "attempt": self.attempt,
            "request_id": self.publish_key,
            "platform": self.platform.value,
        }

    def live_part(self, number: int) -> RemotePart | None:
        return next((part for part in self.live if part.part == number), None)

    def since(self) -> datetime:
        """Where a search for this attempt starts: its window, or the due instant."""
        return self.window_start or self.due_at

    def upload(self, part: int, index: int) -> Upload | None:
        return self.uploads.get(f"{part}:{index}")

    @property
    def media_parts(self) -> list[tuple[int, str, tuple[MediaRef, ...]]]:
        """(number, text, media) of every part."""
        parts = [(self.content.text, self.content.media), *((p.text, p.media) for p in self.content.thread)]
        return [(number, text, media) for number, (text, media) in enumerate(parts, start=1)]
