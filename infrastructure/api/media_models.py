"""Bodies of the media library's routes."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, Field

from infrastructure.api.models import Strict


class MediaOut(BaseModel):
    id: UUID
    filename: str
    alt_text: str | None
    sha256: str
    size: int
    mime: str
    kind: str = Field(description="image, gif (animated) or video")
    width: int
    height: int
    duration: float | None = Field(default=None, description="seconds, for video and animated GIF")
    added_at: datetime


class MediaList(BaseModel):
    items: list[MediaOut]


class AddMediaFromUrl(Strict):
    url: str = Field(min_length=8, max_length=2000, pattern=r"^https?://", description="fetched once, never again")
    alt_text: str | None = Field(default=None, max_length=5000)
    filename: str | None = Field(default=None, max_length=200)


class DescribeMedia(Strict):
    alt_text: str | None = Field(max_length=5000, description="the library's alt text, used where a post gives none")


class Deleted(BaseModel):
    deleted: str
