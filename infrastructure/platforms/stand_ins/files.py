"""Files the stand-ins were given: uploaded (X, Mastodon, Bluesky, LinkedIn) or fetched from a
URL (Threads, Instagram, Facebook). Each keeps the SHA-256 of its bytes and its alt text, so
the truth shows exactly what reached the platform; processing takes a few looks, as it does on
the platforms. Faults drawn for uploads: `upload_500` (the upload fails), `upload_stuck`
(processing never finishes), `upload_expired` (the id is already expired when a post uses it).
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import aiohttp

if TYPE_CHECKING:
    from infrastructure.platforms.simulator import Simulator

UPLOAD_FAULTS = ("upload_500", "upload_stuck", "upload_expired")
LIFETIME = timedelta(hours=24)


@dataclass
class StoredFile:
    id: str
    platform: str
    user: str
    mime: str
    expires_at: datetime
    data: bytearray = field(default_factory=bytearray)
    sha256: str = ""
    alt: str | None = None
    looks_left: int = 0  # looks at its status before processing is done
    stuck: bool = False
    finished: bool = False

    @property
    def state(self) -> str:
        if not self.finished:
            return "uploading"
        return "in_progress" if self.stuck or self.looks_left > 0 else "succeeded"

    def truth(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "alt": self.alt, "mime": self.mime, "size": len(self.data)}


class SimulatedFiles:
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.items: dict[str, StoredFile] = {}
        self._ids = itertools.count(9_000_000_001)

    def fault(self) -> str | None:
        """This upload's fault, drawn by the ratios of `upload_*` in the simulator's faults."""
        roll = self.sim._random.random()
        for name in UPLOAD_FAULTS:
            ratio = self.sim.faults.get(name, 0.0)
            if roll < ratio:
                return name
            roll -= ratio
        return None

    def start(self, platform: str, user: str, mime: str, fault: str | None, looks: int = 0) -> StoredFile:
        expires = self.sim.now() + (timedelta(0) if fault == "upload_expired" else LIFETIME)
        item = StoredFile(
            id=str(next(self._ids)),
            platform=platform,
            user=user,
            mime=mime,
            expires_at=expires,
            looks_left=looks,
            stuck=fault == "upload_stuck",
        )
        self.items[item.id] = item
        return item

    def add(self, platform: str, user: str, data: bytes, mime: str, fault: str | None, looks: int = 0) -> StoredFile:
        item = self.start(platform, user, mime, fault, looks)
        item.data.extend(data)
        self.finish(item)
        return item

    def finish(self, item: StoredFile) -> None:
        item.sha256 = hashlib.sha256(bytes(item.data)).hexdigest()
        item.finished = True

    def look(self, item: StoredFile) -> str:
        """Its processing state, one look further along."""
        if item.finished and item.looks_left > 0 and not item.stuck:
            item.looks_left -= 1
            return "in_progress"
        return item.state

    def usable(self, platform: str, user: str, ids: list[str]) -> list[StoredFile] | str:
        """The files a post may carry, in order; or why not (unknown, another user's, expired,
        not processed yet)."""
        found = []
        for media_id in ids:
            item = self.items.get(str(media_id))
            if item is None or item.platform != platform or item.user != user:
                return f"unknown media id {media_id}"
            if item.expires_at <= self.sim.now():
                return f"media id {media_id} has expired"
            if item.state != "succeeded":
                return f"media id {media_id} is still {item.state}"
            found.append(item)
        return found

    async def fetch(self, platform: str, user: str, url: str, mime_hint: str, fault: str | None) -> StoredFile | str:
        """Fetch a file from `url`, as Threads, Instagram and Facebook do (cURL); or why not."""
        try:
            async with (
                aiohttp.ClientSession() as session,
                session.get(url, timeout=aiohttp.ClientTimeout(total=10)) as got,
            ):
                if got.status != 200:
                    return f"fetching {url} answered {got.status}"
                data = await got.read()
                mime = got.headers.get("Content-Type", mime_hint).split(";")[0]
        except (aiohttp.ClientError, TimeoutError) as problem:
            return f"fetching {url} failed: {type(problem).__name__}"
        return self.add(platform, user, data, mime, fault, looks=1)
