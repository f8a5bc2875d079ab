"""What a post says and where it goes: values with no behaviour beyond checking themselves."""

from __future__ import annotations

from typing import Literal

from domain.base import Immutable
from domain.errors import EmptyContent
from domain.platform import Platform

__all__ = ["Content", "MediaRef", "Platform", "ThreadPart"]


class MediaRef(Immutable):
    """A picture or video the post carries: an id in the caller's library, or a URL."""

    ref: str
    alt_text: str | None = None
    kind: Literal["image", "video", "gif"] = "image"


class ThreadPart(Immutable):
    text: str
    media: tuple[MediaRef, ...] = ()


class Content(Immutable):
    """The text, media and optional follow-up thread parts of one post."""

    text: str
    media: tuple[MediaRef, ...] = ()
    thread: tuple[ThreadPart, ...] = ()

    def check_not_empty(self) -> None:
        """Raise `EmptyContent` naming the first part with neither text nor media."""
        if not self.text.strip() and not self.media:
            raise EmptyContent("the post's text is empty", field="content.text")
        for index, part in enumerate(self.thread, start=2):
            if not part.text.strip() and not part.media:
                raise EmptyContent(
                    f"part {index} of the thread is empty",
                    field=f"content.thread[{index - 2}].text",
                )
