"""What each platform accepts of a file: formats, bytes, pixels, aspect ratio, video length.

Read from each platform's reference on 2026-11-23 (docs/platforms.md lists the sources). A
check names the part, the file (media[i]), the field and the limit. Pure: the files' facts
come in as `MediaInfo`, inspected when the media was added.
"""

from __future__ import annotations

from domain.base import Immutable
from domain.media import MediaInfo
from domain.platform import Platform

MB = 1_000_000
MIB = 1024 * 1024
JPEG, PNG, GIF, WEBP = "image/jpeg", "image/png", "image/gif", "image/webp"
MP4, MOV = "video/mp4", "video/quicktime"


class MediaLimits(Immutable):
    image_types: frozenset[str]
    video_types: frozenset[str] = frozenset()  # empty: Herald sends no video there
    animated_gif: bool = False  # an animated GIF goes as a GIF (counted with videos)
    max_image_bytes: int
    max_gif_bytes: int | None = None
    max_video_bytes: int | None = None
    max_pixels: int | None = None
    min_width: int | None = None
    aspect: tuple[float, float] | None = None  # width / height, inclusive
    video_seconds: tuple[float, float] | None = None


LIMITS: dict[Platform, MediaLimits] = {
    Platform.X: MediaLimits(
        image_types=frozenset({JPEG, PNG, WEBP, GIF}),
        video_types=frozenset({MP4, MOV}),
        animated_gif=True,
        max_image_bytes=5 * MB,
        max_gif_bytes=15 * MB,
        max_video_bytes=512 * MB,
        max_pixels=8192 * 8192,
        video_seconds=(0.5, 140.0),
    ),
    Platform.MASTODON: MediaLimits(
        image_types=frozenset({JPEG, PNG, WEBP, GIF}),
        video_types=frozenset({MP4, MOV}),
        animated_gif=True,
        max_image_bytes=16 * MB,
        max_gif_bytes=16 * MB,
        max_video_bytes=99 * MB,
    ),
    Platform.BLUESKY: MediaLimits(
        image_types=frozenset({JPEG, PNG, WEBP}),
        max_image_bytes=1_000_000,  # app.bsky.embed.images: image maxSize
    ),
    Platform.LINKEDIN: MediaLimits(
        image_types=frozenset({JPEG, PNG, GIF}),
        animated_gif=False,
        max_image_bytes=10 * MB,
        max_pixels=36_152_320,
    ),
    Platform.THREADS: MediaLimits(
        image_types=frozenset({JPEG, PNG}),
        video_types=frozenset({MP4, MOV}),
        max_image_bytes=8 * MB,
        max_video_bytes=1000 * MB,
        min_width=320,
        aspect=(0.1, 10.0),
        video_seconds=(0.0, 300.0),
    ),
    Platform.INSTAGRAM: MediaLimits(
        image_types=frozenset({JPEG}),
        video_types=frozenset({MP4, MOV}),
        max_image_bytes=8 * MB,
        max_video_bytes=1000 * MB,
        min_width=320,
        aspect=(0.8, 1.91),
        video_seconds=(3.0, 900.0),
    ),
    Platform.FACEBOOK: MediaLimits(
        image_types=frozenset({JPEG, PNG, GIF, WEBP}),
        max_image_bytes=10 * MB,
    ),
}
assert set(LIMITS) == set(Platform), "every platform has media limits"


def effective_kind(info: MediaInfo, limits: MediaLimits) -> str:
    """How the platform takes the file: an animated GIF is a GIF where the platform plays it,
    else an image (its first frame)."""
    if info.kind == "gif" and not limits.animated_gif:
        return "image"
    return info.kind


def check_file(info: MediaInfo, limits: MediaLimits, name: str) -> list[tuple[str, str, int | None, int | None, str]]:
    """(code, field, limit, actual, message) for each reason the platform would refuse the file."""
    found: list[tuple[str, str, int | None, int | None, str]] = []
    kind = effective_kind(info, limits)
    accepted = limits.video_types if kind == "video" else limits.image_types
    if info.mime not in accepted:
        what = "video" if kind == "video" else "image"
        takes = ", ".join(sorted(t.split("/")[1] for t in accepted)) or "none"
        found.append(("format_unsupported", "type", None, None, f"{name} takes no {info.mime} {what} ({takes})"))
        return found
    ceiling = {"video": limits.max_video_bytes, "gif": limits.max_gif_bytes}.get(kind, limits.max_image_bytes)
    if ceiling is not None and info.size > ceiling:
        found.append(
            ("file_too_large", "bytes", ceiling, info.size, f"is {info.size:,} bytes, {name} allows {ceiling:,}")
        )
    if limits.max_pixels is not None and kind != "video" and info.pixels > limits.max_pixels:
        found.append(
            (
                "too_many_pixels",
                "pixels",
                limits.max_pixels,
                info.pixels,
                f"is {info.width} x {info.height} pixels, {name} allows {limits.max_pixels:,}",
            )
        )
    if limits.min_width is not None and kind == "image" and info.width < limits.min_width:
        found.append(
            (
                "too_narrow",
                "width",
                limits.min_width,
                info.width,
                f"is {info.width} px wide, {name} needs {limits.min_width}",
            )
        )
    if limits.aspect is not None and kind == "image":
        low, high = limits.aspect
        if not low <= round(info.aspect, 3) <= high:
            found.append(
                (
                    "aspect_ratio",
                    "aspect",
                    None,
                    None,
                    f"has an aspect ratio of {info.aspect:.2f}:1, {name} takes {low:g}:1 to {high:g}:1",
                )
            )
    if limits.video_seconds is not None and kind == "video" and info.duration is not None:
        shortest, longest = limits.video_seconds
        if not shortest <= info.duration <= longest:
            found.append(
                (
                    "video_length",
                    "duration",
                    int(longest),
                    int(info.duration),
                    f"lasts {info.duration:.1f} s, {name} takes {shortest:g} to {longest:g} s",
                )
            )
    return found
