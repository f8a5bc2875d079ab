"""What a post says and where it goes: values with no behaviour beyond checking themselves."""

from __future__ import annotations

from typing import Literal

from domain.base import Immutable
from domain.errors import EmptyContent
from domain.platform import Platform
from domain.text import check_text

__all__ = ["Content", "MediaRef", "Platform", "ThreadPart"]


class MediaRef(Immutable):
    """A picture or video the post carries: the id of a media in the workspace's library, with
    the alt text this post gives it (the library's own when none is given)."""

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
    first_comment: str | None = None  # sent once the post is live: a comment, or a self-reply

    @property
    def media_ids(self) -> list[str]:
        """Every media the post refers to, in order, part by part."""
        return [m.ref for m in self.media] + [m.ref for part in self.thread for m in part.media]

    @property
    def parts(self) -> int:
        """How many posts this content makes on the platform: the post and its thread's parts."""
        return 1 + len(self.thread)

    def check_characters(self) -> None:
        """Raise `ControlCharacter` naming the first text that cannot be stored."""
        check_text(self.text, field="content.text")
        check_text(self.first_comment or "", field="content.first_comment")
        for index, item in enumerate(self.media):
            check_text(item.ref, field=f"content.media[{index}].ref")
            check_text(item.alt_text or "", field=f"content.media[{index}].alt_text")
        for number, part in enumerate(self.thread):
            check_text(part.text, field=f"content.thread[{number}].text")
            for index, item in enumerate(part.media):
                check_text(item.ref, field=f"content.thread[{number}].media[{index}].ref")
                check_text(item.alt_text or "", field=f"content.thread[{number}].media[{index}].alt_text")

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
