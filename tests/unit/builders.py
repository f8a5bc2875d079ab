"""Small builders for domain tests: a post in a given state, on a manual clock."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from domain.content import Content, Platform
from domain.post import Post
from tests.clock import ManualClock

POST_ID = UUID("00000000-0000-4000-8000-000000000001")


def new_draft(clock: ManualClock, text: str = "Hello, world") -> Post:
    return Post.draft(
        post_id=POST_ID,
        workspace="w1",
        account="acme",
        platform=Platform.MASTODON,
        content=Content(text=text),
        external_id="ext-1",
        grace=timedelta(hours=1),
        freeze=timedelta(minutes=5),
        now=clock(),
    )


def queued_post(clock: ManualClock, in_minutes: float = 60) -> Post:
    post = new_draft(clock)
    post.schedule(clock.now + timedelta(minutes=in_minutes), now=clock())
    return post


def claimed_post(clock: ManualClock) -> Post:
    post = queued_post(clock, in_minutes=10)
    clock.advance(minutes=10)
    post.claim(worker="worker-1", lease=timedelta(seconds=30), now=clock())
    return post
