"""The platforms Herald publishes to. A module of its own, with no imports: the command line
lists these in its help without loading the model."""

from __future__ import annotations

from enum import StrEnum


class Platform(StrEnum):
    X = "x"
    MASTODON = "mastodon"
    BLUESKY = "bluesky"
    LINKEDIN = "linkedin"
    THREADS = "threads"
    INSTAGRAM = "instagram"
    FACEBOOK = "facebook"  # a Facebook Page
