"""The library's files as adapters need them (the `MediaSource` port): bytes, facts, and a
signed public URL for platforms that fetch (Threads, Instagram, Facebook)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from domain.media import MediaInfo
from infrastructure.media.signed import MediaLinks
from services.media import MediaService


class LibraryFiles:
    def __init__(self, media: MediaService, links: Callable[[], MediaLinks]) -> None:
        self.media = media
        self._links = links  # made on first use: only fetching platforms need the signing key

    async def read(self, workspace: str, media_id: str) -> bytes:
        return await asyncio.to_thread(self.media.read, workspace, media_id)

    async def info(self, workspace: str, media_id: str) -> MediaInfo:
        return await asyncio.to_thread(self.media.info, workspace, media_id)

    def public_url(self, workspace: str, media_id: str) -> str:
        return self._links().url(workspace, media_id)
