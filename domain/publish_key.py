"""The publish key: one per publish intent, stable across retries, new on edit or reschedule."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from uuid import UUID


def publish_key(post_id: UUID, account: str, platform: str, content_version: int, due_at: datetime) -> str:
    """A 32-character hex key usable as Mastodon's `Idempotency-Key` and Bluesky's `rkey`.

    The post id is part of the input so that two different posts for the same account at the
    same instant never share a key (a platform would deduplicate the second one away).
    """
    instant = due_at.astimezone(UTC).isoformat()
    material = f"{post_id}|{account}|{platform}|{content_version}|{instant}"
    return hashlib.sha256(material.encode()).hexdigest()[:32]
