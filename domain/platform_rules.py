"""What each platform accepts of a post's text, media counts, alt text and first comment,
read from each platform's reference (docs/platforms.md lists them, with the date)."""

from __future__ import annotations

from domain.base import Immutable
from domain.platform import Platform


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
    max_media: int | None = None  # images and videos together (carousels)
    threads: bool = True
    url_length: int | None = None  # a URL counts as this many, whatever its length
    max_hashtags: int | None = None
    max_mentions: int | None = None
    first_comment: bool = True  # takes a first comment (a comment, or a self-reply)


RULES: dict[Platform, Rules] = {
    Platform.X: Rules(platform=Platform.X, max_text=280, unit="weighted characters", max_alt_text=1000),
    Platform.MASTODON: Rules(
        platform=Platform.MASTODON, max_text=500, unit="characters", max_alt_text=1500, url_length=23
    ),
    Platform.BLUESKY: Rules(
        platform=Platform.BLUESKY, max_text=300, unit="graphemes", max_bytes=3000, max_alt_text=2000, max_videos=0
    ),
    Platform.LINKEDIN: Rules(
        platform=Platform.LINKEDIN,
        max_text=3000,
        unit="characters",
        max_images=20,
        max_videos=0,
        threads=False,
        max_alt_text=4086,
    ),
    Platform.THREADS: Rules(
        platform=Platform.THREADS,
        max_text=500,
        unit="characters",
        max_images=20,
        max_videos=20,
        max_media=20,
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
        max_media=10,
        media_required=True,
        threads=False,
        max_alt_text=1000,
        max_hashtags=30,
        max_mentions=20,
    ),
    Platform.FACEBOOK: Rules(
        platform=Platform.FACEBOOK,
        max_text=63206,
        unit="characters",
        max_images=10,
        max_videos=0,
        threads=False,
        max_alt_text=1000,
    ),
}


NAMES = {
    Platform.X: "X",
    Platform.MASTODON: "Mastodon",
    Platform.BLUESKY: "Bluesky",
    Platform.LINKEDIN: "LinkedIn",
    Platform.THREADS: "Threads",
    Platform.INSTAGRAM: "Instagram",
    Platform.FACEBOOK: "Facebook",
}


def rules_for(platform: Platform, *, max_characters: int | None = None) -> Rules:
    """The platform's rules; `max_characters` is a Mastodon instance's own limit."""
    rules = RULES[platform]
    if max_characters is not None and platform is Platform.MASTODON:
        return rules.model_copy(update={"max_text": max_characters})
    return rules
