"""A publish intent: exactly what one attempt asks a platform to publish."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from domain.base import Immutable
from domain.content import Content, Platform


class PublishIntent(Immutable):
    post_id: UUID
    account: str
    platform: Platform
    publish_key: str
    content: Content
    attempt: int
    due_at: datetime
    container_id: str | None = None  # Threads/Instagram: the container an earlier attempt made
