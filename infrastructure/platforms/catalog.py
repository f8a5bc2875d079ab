"""Every platform's adapter, by platform: the one table the router looks adapters up in. A test
walks `Platform` and fails if any platform is missing here."""

from __future__ import annotations

from domain.content import Platform
from infrastructure.platforms.adapters.bluesky import BlueskyAdapter
from infrastructure.platforms.adapters.facebook import FacebookAdapter
from infrastructure.platforms.adapters.instagram import InstagramAdapter
from infrastructure.platforms.adapters.linkedin import LinkedInAdapter
from infrastructure.platforms.adapters.mastodon import MastodonAdapter
from infrastructure.platforms.adapters.threads import ThreadsAdapter
from infrastructure.platforms.adapters.x import XAdapter
from infrastructure.platforms.http import Http
from infrastructure.platforms.media_steps import Polling
from services.ports import Clock, MediaSource, PlatformAdapter


def adapters(
    http: Http, clock: Clock, files: MediaSource | None = None, polling: Polling | None = None
) -> dict[Platform, PlatformAdapter]:
    return {
        Platform.X: XAdapter(http, clock, files, polling),
        Platform.MASTODON: MastodonAdapter(http, clock, files, polling),
        Platform.BLUESKY: BlueskyAdapter(http, clock, files),
        Platform.LINKEDIN: LinkedInAdapter(http, clock, files),
        Platform.THREADS: ThreadsAdapter(http, clock, files, polling),
        Platform.INSTAGRAM: InstagramAdapter(http, clock, files, polling),
        Platform.FACEBOOK: FacebookAdapter(http, clock, files),
    }
