"""Each platform's file limits at schedule time, from the library's facts of each file: the
problem names the part, media[i], the field and the limit."""

from __future__ import annotations

import pytest

from domain.content import Content, MediaRef, Platform, ThreadPart
from domain.media import MediaInfo
from domain.validation import RULES, validate

JPEG = MediaInfo(sha256="a" * 64, size=200_000, mime="image/jpeg", kind="image", width=1080, height=1080)
CLIP = MediaInfo(sha256="b" * 64, size=2_000_000, mime="video/mp4", kind="video", width=720, height=1280, duration=8.0)


def problems(platform: Platform, info: MediaInfo, alt: str | None = "alt", count: int = 1) -> list[tuple[str, str]]:
    refs = tuple(MediaRef(ref=f"m{n}", alt_text=alt, kind=info.kind) for n in range(count))
    found = validate(Content(text="hello", media=refs), RULES[platform], {f"m{n}": info for n in range(count)})
    return [(p.code, p.field) for p in found]


@pytest.mark.parametrize(
    ("platform", "limit"), [(Platform.X, 1000), (Platform.MASTODON, 1500), (Platform.BLUESKY, 2000)]
)
def test_alt_text_lengths_are_each_platforms_own(platform: Platform, limit: int) -> None:
    assert problems(platform, JPEG, alt="a" * limit) == []
    [(_, field)] = problems(platform, JPEG, alt="a" * (limit + 1))
    assert field == "media[0].alt_text"


@pytest.mark.parametrize("platform", list(Platform))
def test_every_image_needs_alt_text_everywhere(platform: Platform) -> None:
    assert ("alt_text_missing", "media[0].alt_text") in problems(platform, JPEG, alt=None)


@pytest.mark.parametrize("platform", [Platform.BLUESKY, Platform.LINKEDIN, Platform.FACEBOOK])
def test_video_is_refused_at_schedule_time_where_herald_sends_none(platform: Platform) -> None:
    assert problems(platform, CLIP)  # refused now, never sent without it later


def test_instagram_takes_4_5_to_1_91_and_jpeg_only() -> None:
    tall = JPEG.model_copy(update={"width": 1080, "height": 1920})
    assert ("aspect_ratio", "media[0].aspect") in problems(Platform.INSTAGRAM, tall)
    portrait = JPEG.model_copy(update={"width": 1080, "height": 1350})  # 4:5 exactly
    assert problems(Platform.INSTAGRAM, portrait) == []
    png = JPEG.model_copy(update={"mime": "image/png"})
    assert ("format_unsupported", "media[0].type") in problems(Platform.INSTAGRAM, png)
    assert problems(Platform.INSTAGRAM, JPEG, count=10) == []
    assert any(code == "too_many_media" for code, _ in problems(Platform.INSTAGRAM, JPEG, count=11))


def test_byte_and_length_limits_name_the_limit() -> None:
    big = JPEG.model_copy(update={"size": 6_000_000})
    content = Content(text="x", media=(MediaRef(ref="m", alt_text="a"),))
    [problem] = validate(content, RULES[Platform.X], {"m": big})
    assert (problem.code, problem.limit, problem.actual) == ("file_too_large", 5_000_000, 6_000_000)
    long_clip = CLIP.model_copy(update={"duration": 200.0})
    codes = [code for code, _ in problems(Platform.X, long_clip)]
    assert codes == ["video_length"]


def test_a_thread_part_is_named_in_its_problem() -> None:
    content = Content(text="one", thread=(ThreadPart(text="two", media=(MediaRef(ref="m"),)),))
    [problem] = validate(content, RULES[Platform.MASTODON], {"m": JPEG})
    assert problem.part == 2 and problem.message.startswith("part 2: ")
