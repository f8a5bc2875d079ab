"""Every platform's adapter, by platform: the one table the router looks adapters up in."""

from __future__ import annotations

from domain.content import Platform
from infrastructure.platforms.adapters.bluesky import BlueskyAdapter
from infrastructure.platforms.adapters.linkedin import LinkedInAdapter
from infrastructure.platforms.adapters.mastodon import MastodonAdapter
from infrastructure.platforms.adapters.threads import ThreadsAdapter
from infrastructure.platforms.adapters.x import XAdapter
from infrastructure.platforms.http import Http
from services.ports import Clock, PlatformAdapter


def adapters(http: Http, clock: Clock) -> dict[Platform, PlatformAdapter]:
    return {
        Platform.X: XAdapter(http, clock),
        Platform.MASTODON: MastodonAdapter(http),
        Platform.BLUESKY: BlueskyAdapter(http),
        Platform.LINKEDIN: LinkedInAdapter(http),
        Platform.THREADS: ThreadsAdapter(http, clock),  # type: ignore[dict-item]
    }
