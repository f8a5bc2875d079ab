"""Posts this process saved lately, as it left them.

The dispatcher claims a batch, sends it, then records the outcomes: without this, recording
re-read every post's events that the claim had just folded. A kept post may be stale (another
process appended since); its save then fails the library's version check, and the command
reads that post afresh. So this only ever saves work, never decides anything.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from uuid import UUID

from domain.post import Post


class KeptPosts:
    def __init__(self, size: int = 8192) -> None:
        self.size = size
        self._posts: OrderedDict[UUID, Post] = OrderedDict()

    def take(self, ids: Iterable[UUID]) -> dict[UUID, Post]:
        """The kept posts among `ids`, handed over: the caller changes them, and keeps them
        again only once saved, so a failed save never leaves a half-changed post here."""
        return {post_id: self._posts.pop(post_id) for post_id in ids if post_id in self._posts}

    def peek(self, post_id: UUID) -> Post | None:
        """The kept post, left in place: only to read (a view of what was just saved)."""
        return self._posts.get(post_id)

    def keep(self, posts: Iterable[Post]) -> None:
        """Keep saved posts that still have a future (terminal ones are not changed again)."""
        for post in posts:
            if not post.is_terminal:
                self._posts[post.id] = post
                self._posts.move_to_end(post.id)
        while len(self._posts) > self.size:
            self._posts.popitem(last=False)
