"""Will the platform accept this content? Pure checks, run at schedule time and before dispatch.

Each problem names the part (1 is the post itself, 2… the thread's follow-ups), the field and
the limit, e.g. "part 2: text is 301 weighted characters, X allows 280".
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import regex

from domain.base import Immutable
from domain.content import Content, MediaRef, Platform
from domain.errors import HeraldError

URL = regex.compile(r"https?://[^\s]+", regex.IGNORECASE)
REMOTE_MENTION = regex.compile(r"(?<=^|[^\w/])@(\w+)@[\w.-]+\w", regex.UNICODE)
GRAPHEME = regex.compile(r"\X")


class Rules(Immutable):
    """What one platform accepts. Mastodon's `max_text` is the instance's own."""

    platform: Platform
    max_text: int
    unit: str  # how `max_text` counts: "weighted characters", "graphemes", "characters"
    max_bytes: int | None = None
    max_images: int = 4
    max_videos: int = 1
    mix_images_and_video: bool = False
    media_required: bool = False
    max_alt_text: int = 1000
    threads: bool = True
    url_length: int | None = None  # a URL counts as this many, whatever its length


RULES: dict[Platform, Rules] = {
    Platform.X: Rules(platform=Platform.X, max_text=280, unit="weighted characters", max_alt_text=1000),
    Platform.MASTODON: Rules(
        platform=Platform.MASTODON, max_text=500, unit="characters", max_alt_text=1500, url_length=23
    ),
    Platform.BLUESKY: Rules(
        platform=Platform.BLUESKY, max_text=300, unit="graphemes", max_bytes=3000, max_alt_text=2000
    ),
    Platform.LINKEDIN: Rules(
        platform=Platform.LINKEDIN,
        max_text=3000,
        unit="characters",
        max_images=20,
        threads=False,
        max_alt_text=4086,
    ),
    Platform.THREADS: Rules(
        platform=Platform.THREADS,
        max_text=500,
        unit="characters",
        max_images=10,
        max_videos=10,
        mix_images_and_video=True,
        max_alt_text=1000,
    ),
    Platform.INSTAGRAM: Rules(
        platform=Platform.INSTAGRAM,
        max_text=2200,
        unit="characters",
        max_images=10,
        max_videos=10,
        mix_images_and_video=True,
        media_required=True,
        threads=False,
        max_alt_text=1000,
    ),
}


class Problem(Immutable):
    code: str  # text_too_long, text_too_many_bytes, too_many_media, media_required, ...
    part: int
    field: str
    limit: int | None
    actual: int | None
    message: str


@lru_cache(maxsize=1024)
def parse_tweet(text: str) -> Any:
    """twitter-text's parse of `text`. Imported on first use: the module takes ~0.7 s to load,
    which every command would otherwise pay, `herald --help` included."""
    from twitter_text import parse_tweet as parse

    return parse(text)


def rules_for(platform: Platform, *, max_characters: int | None = None) -> Rules:
    """The platform's rules; `max_characters` is a Mastodon instance's own limit."""
    rules = RULES[platform]
    if max_characters is not None and platform is Platform.MASTODON:
        return rules.model_copy(update={"max_text": max_characters})
    return rules


def validate(content: Content, rules: Rules) -> list[Problem]:
    """Every problem the platform would refuse the content for; empty when it would accept it."""
    name = _NAMES[rules.platform]
    problems: list[Problem] = []
    if content.thread and not rules.threads:
        problems.append(_problem("threads_unsupported", 2, "thread", None, None, f"{name} does not take threads"))
    parts = [(content.text, content.media), *((p.text, p.media) for p in content.thread)]
    for number, (text, media) in enumerate(parts, start=1):
        problems += _check_text(text, number, rules, name)
        problems += _check_media(media, text, number, rules, name)
    return problems


def text_length(text: str, rules: Rules) -> int:
    """The length the platform counts for `text`."""
    if rules.platform is Platform.X:
        return int(parse_tweet(text).weightedLength)
    if rules.url_length is not None:  # Mastodon: URLs weigh 23, remote mentions count as @user
        text = URL.sub("x" * rules.url_length, REMOTE_MENTION.sub(r"@\1", text))
    if rules.unit in ("graphemes", "characters") and rules.platform in (Platform.BLUESKY, Platform.MASTODON):
        return len(GRAPHEME.findall(text))
    return len(text)


def _check_text(text: str, part: int, rules: Rules, name: str) -> list[Problem]:
    problems = []
    if not text.strip():
        return []  # an empty part is judged with its media below
    length = text_length(text, rules)
    if length > rules.max_text:
        problems.append(
            _problem(
                "text_too_long",
                part,
                "text",
                rules.max_text,
                length,
                f"text is {length} {rules.unit}, {name} allows {rules.max_text}",
            )
        )
    if rules.platform is Platform.X and length <= rules.max_text and not parse_tweet(text).valid:
        problems.append(
            _problem(
                "invalid_characters",
                part,
                "text",
                None,
                None,
                f"text has characters {name} refuses (U+FFFE, U+FFFF…)",
            )
        )
    size = len(text.encode())
    if rules.max_bytes is not None and size > rules.max_bytes:
        problems.append(
            _problem(
                "text_too_many_bytes",
                part,
                "text",
                rules.max_bytes,
                size,
                f"text is {size} bytes, {name} allows {rules.max_bytes}",
            )
        )
    return problems


def _check_media(media: tuple[MediaRef, ...], text: str, part: int, rules: Rules, name: str) -> list[Problem]:
    problems = []
    videos = sum(1 for m in media if m.kind in ("video", "gif"))
    if not media and not text.strip() and not (rules.media_required and part == 1):
        problems.append(_problem("empty_text", part, "text", None, 0, "has neither text nor media"))
    images = len(media) - videos
    if rules.media_required and part == 1 and not media:
        problems.append(_problem("media_required", part, "media", 1, 0, f"{name} needs at least one picture or video"))
    if images > rules.max_images:
        problems.append(
            _problem(
                "too_many_media",
                part,
                "media",
                rules.max_images,
                images,
                f"{images} images, {name} allows {rules.max_images}",
            )
        )
    if videos > rules.max_videos:
        problems.append(
            _problem(
                "too_many_media",
                part,
                "media",
                rules.max_videos,
                videos,
                f"{videos} videos or GIFs, {name} allows {rules.max_videos}",
            )
        )
    if videos and images and not rules.mix_images_and_video:
        problems.append(
            _problem(
                "media_mix",
                part,
                "media",
                None,
                None,
                f"{name} takes images or one video, not both",
            )
        )
    for index, item in enumerate(media):
        alt = len(item.alt_text or "")
        if alt > rules.max_alt_text:
            problems.append(
                _problem(
                    "alt_text_too_long",
                    part,
                    f"media[{index}].alt_text",
                    rules.max_alt_text,
                    alt,
                    f"alt text of media {index + 1} is {alt} characters, {name} allows {rules.max_alt_text}",
                )
            )
    return problems


def _problem(code: str, part: int, field: str, limit: int | None, actual: int | None, text: str) -> Problem:
    return Problem(code=code, part=part, field=field, limit=limit, actual=actual, message=f"part {part}: {text}")


_NAMES = {
    Platform.X: "X",
    Platform.MASTODON: "Mastodon",
    Platform.BLUESKY: "Bluesky",
    Platform.LINKEDIN: "LinkedIn",
    Platform.THREADS: "Threads",
    Platform.INSTAGRAM: "Instagram",
}


class ContentInvalid(HeraldError):
    """The platform would refuse this content; `problems` lists every reason."""

    code = "content_invalid"
    field = "content"

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems


def check(content: Content, rules: Rules) -> None:
    """Raise `ContentInvalid` with every problem, if there is any."""
    if problems := validate(content, rules):
        raise ContentInvalid(problems)
