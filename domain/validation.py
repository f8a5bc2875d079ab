"""Will the platform accept this content? Pure checks, run at schedule time and before dispatch.

Each problem names the part (1 is the post itself, 2… the thread's follow-ups), the field and
the limit, e.g. "part 2: text is 301 weighted characters, X allows 280".
"""

from __future__ import annotations

from collections.abc import Mapping

import regex

from domain.base import Immutable
from domain.content import Content, MediaRef, Platform
from domain.errors import HeraldError
from domain.media import MediaInfo
from domain.media_rules import LIMITS, check_file, effective_kind
from domain.platform_rules import NAMES as _NAMES
from domain.platform_rules import RULES, Rules, rules_for
from domain.x_length import x_count

URL = regex.compile(r"https?://[^\s]+", regex.IGNORECASE)
REMOTE_MENTION = regex.compile(r"(?<=^|[^\w/])@(\w+)@[\w.-]+\w", regex.UNICODE)
GRAPHEME = regex.compile(r"\X")
HASHTAG = regex.compile(r"(?<![\w#])#\w+", regex.UNICODE)
MENTION = regex.compile(r"(?<![\w@])@[\w.]+", regex.UNICODE)


class Problem(Immutable):
    code: str  # text_too_long, text_too_many_bytes, too_many_media, media_required, ...
    part: int
    field: str
    limit: int | None
    actual: int | None
    message: str


def validate(content: Content, rules: Rules, media: Mapping[str, MediaInfo] | None = None) -> list[Problem]:
    """Every problem the platform would refuse the content for; empty when it would accept it.

    With `media` (the library's facts of each file, by media id), every file is checked too
    (format, bytes, pixels, aspect ratio, length), each image must carry alt text, and a
    reference to no known media is refused."""
    name = _NAMES[rules.platform]
    problems: list[Problem] = []
    if content.thread and not rules.threads:
        problems.append(_problem("threads_unsupported", 2, "thread", None, None, f"{name} does not take threads"))
    parts = [(content.text, content.media), *((p.text, p.media) for p in content.thread)]
    for number, (text, items) in enumerate(parts, start=1):
        problems += _check_text(text, number, rules, name)
        problems += _check_media(items, text, number, rules, name)
        if media is not None:
            problems += _check_files(items, number, rules, name, media)
    if content.first_comment is not None:
        problems += _check_comment(content.first_comment, rules, name)
    return problems


def _check_files(
    items: tuple[MediaRef, ...], part: int, rules: Rules, name: str, media: Mapping[str, MediaInfo]
) -> list[Problem]:
    problems = []
    limits = LIMITS[rules.platform]
    for index, item in enumerate(items):
        info = media.get(item.ref)
        if info is None:
            problems.append(
                _problem(
                    "media_not_found",
                    part,
                    f"media[{index}].ref",
                    None,
                    None,
                    f"media {item.ref!r} is not in the library",
                )
            )
            continue
        for code, field, limit, actual, text in check_file(info, limits, name):
            problems.append(_problem(code, part, f"media[{index}].{field}", limit, actual, f"media {index + 1} {text}"))
        if effective_kind(info, limits) != "video" and not (item.alt_text or "").strip():
            problems.append(
                _problem(
                    "alt_text_missing",
                    part,
                    f"media[{index}].alt_text",
                    None,
                    None,
                    f"media {index + 1} has no alt text; every image carries one",
                )
            )
    return problems


def _check_comment(comment: str, rules: Rules, name: str) -> list[Problem]:
    if not rules.first_comment:
        return [_problem("first_comment_unsupported", 1, "first_comment", None, None, f"{name} takes no first comment")]
    if not comment.strip():
        return [_problem("empty_text", 1, "first_comment", None, 0, "the first comment is empty")]
    return [
        p.model_copy(update={"field": "first_comment", "message": p.message.replace("text", "first comment", 1)})
        for p in _check_text(comment, 1, rules, name)
    ]


def text_length(text: str, rules: Rules) -> int:
    """The length the platform counts for `text`."""
    if rules.platform is Platform.X:
        return x_count(text)[0]
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
    for limit, pattern, what in ((rules.max_hashtags, HASHTAG, "hashtags"), (rules.max_mentions, MENTION, "mentions")):
        count = len(pattern.findall(text))
        if limit is not None and count > limit:
            problems.append(
                _problem(
                    f"too_many_{what}", part, "text", limit, count, f"text has {count} {what}, {name} allows {limit}"
                )
            )
    if rules.platform is Platform.X and length <= rules.max_text and not x_count(text)[1]:
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
    if rules.max_media is not None and len(media) > rules.max_media:
        problems.append(
            _problem(
                "too_many_media",
                part,
                "media",
                rules.max_media,
                len(media),
                f"{len(media)} files, {name} allows {rules.max_media}",
            )
        )
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


class ContentInvalid(HeraldError):
    """The platform would refuse this content; `problems` lists every reason."""

    code = "content_invalid"
    field = "content"

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems


def check(content: Content, rules: Rules, media: Mapping[str, MediaInfo] | None = None) -> None:
    """Raise `ContentInvalid` with every problem, if there is any."""
    if problems := validate(content, rules, media):
        raise ContentInvalid(problems)


__all__ = ["RULES", "URL", "ContentInvalid", "Problem", "Rules", "check", "rules_for", "text_length", "validate"]
