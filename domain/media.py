"""A picture or video in a workspace's library, kept by the hash of its bytes.

    Added (what the file is) ─► AltTextChanged … ─► Deleted (refused while a post uses it)

The same bytes added twice are one media: its id derives from the workspace and the SHA-256
of the bytes. Posts refer to media by that id; each use may carry its own alt text, else the
media's own is used.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Literal
from uuid import UUID

from domain.base import Aggregate, Immutable
from domain.errors import HeraldError
from domain.instants import require_utc
from domain.text import check_text

MEDIA = uuid.UUID("2b7e3a51-9f0c-4d8e-a6b2-5c1d0e9f3a74")
Kind = Literal["image", "gif", "video"]


def media_id(workspace: str, sha256: str) -> UUID:
    """The media's id: the same bytes in the same workspace are the same media."""
    return uuid.uuid5(MEDIA, f"{workspace}/{sha256}")


class MediaInfo(Immutable):
    """What a file is, as inspected when it was added (Pillow for images, ffprobe for video)."""

    sha256: str
    size: int  # bytes
    mime: str  # image/jpeg, image/png, image/gif, image/webp, video/mp4, video/quicktime
    kind: Kind
    width: int
    height: int
    duration: float | None = None  # seconds, for video and animated GIF
    frames: int = 1

    @property
    def pixels(self) -> int:
        return self.width * self.height

    @property
    def aspect(self) -> float:
        """Width over height (Instagram takes 0.8, 4:5, to 1.91)."""
        return self.width / self.height if self.height else 0.0


class MediaNotFound(HeraldError):
    code = "media_not_found"
    field = "media_id"


class MediaInUse(HeraldError):
    code = "media_in_use"
    field = "media_id"


class Media(Aggregate):
    class Added(Aggregate.Created):
        workspace: str
        info: MediaInfo
        filename: str
        alt_text: str | None

        def apply(self, media: Media) -> None:
            media.workspace = self.workspace
            media.info = self.info
            media.filename = self.filename
            media.alt_text = self.alt_text
            media.deleted = False
            media.added_at = self.timestamp

    class AltTextChanged(Aggregate.Event):
        alt_text: str | None

        def apply(self, media: Media) -> None:
            media.alt_text = self.alt_text

    class Deleted(Aggregate.Event):
        def apply(self, media: Media) -> None:
            media.deleted = True

    class Restored(Aggregate.Event):
        """The same bytes added again after a deletion."""

        alt_text: str | None

        def apply(self, media: Media) -> None:
            media.deleted = False
            media.alt_text = self.alt_text

    if TYPE_CHECKING:
        workspace: str
        info: MediaInfo
        filename: str
        alt_text: str | None
        deleted: bool
        added_at: datetime

    @classmethod
    def add(cls, *, workspace: str, info: MediaInfo, filename: str, alt_text: str | None, now: datetime) -> Media:
        check_text(filename, field="filename")
        check_text(alt_text or "", field="alt_text")
        return cls._create(
            cls.Added,
            id=media_id(workspace, info.sha256),
            timestamp=require_utc(now, field="now"),
            workspace=workspace,
            info=info,
            filename=filename,
            alt_text=alt_text or None,
        )

    def change_alt_text(self, alt_text: str | None, *, now: datetime) -> None:
        self._check_present()
        check_text(alt_text or "", field="alt_text")
        if (alt_text or None) != self.alt_text:
            self.trigger_event(self.AltTextChanged, timestamp=require_utc(now, field="now"), alt_text=alt_text or None)

    def delete(self, *, used_by: int, now: datetime) -> None:
        """Delete the media; refused while `used_by` posts that may still go out refer to it."""
        self._check_present()
        if used_by:
            raise MediaInUse(f"media {self.id} is used by {used_by} post(s) that may still go out; cancel them first")
        self.trigger_event(self.Deleted, timestamp=require_utc(now, field="now"))

    def restore(self, alt_text: str | None, *, now: datetime) -> None:
        if self.deleted:
            self.trigger_event(self.Restored, timestamp=require_utc(now, field="now"), alt_text=alt_text or None)

    def _check_present(self) -> None:
        if self.deleted:
            raise MediaNotFound(f"no media {self.id}")
