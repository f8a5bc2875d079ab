"""The media library: add a file (stored once by its hash, inspected), read it, describe it,
delete it when no post that may still go out uses it; and resolve a post's media references
(the kind of each file, the library's alt text where the post gives none)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Protocol
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from pydantic import BaseModel

from domain.content import Content, MediaRef, ThreadPart
from domain.media import Media, MediaInfo, MediaNotFound, media_id
from services.ports import Clock, EventLog


class MediaStore(Protocol):
    """Where the bytes live, by SHA-256 (infrastructure/media/store.py)."""

    def put(self, data: bytes) -> str: ...
    def read(self, digest: str) -> bytes: ...
    def exists(self, digest: str) -> bool: ...


Inspect = Callable[[bytes], MediaInfo]
Usage = Callable[[str, str], int]  # (workspace, media id) → posts that may still go out using it


class MediaView(BaseModel):
    id: UUID
    workspace: str
    filename: str
    alt_text: str | None
    sha256: str
    size: int
    mime: str
    kind: str
    width: int
    height: int
    duration: float | None
    added_at: datetime

    @classmethod
    def of(cls, media: Media) -> MediaView:
        info = media.info
        return cls(
            id=media.id,
            workspace=media.workspace,
            filename=media.filename,
            alt_text=media.alt_text,
            sha256=info.sha256,
            size=info.size,
            mime=info.mime,
            kind=info.kind,
            width=info.width,
            height=info.height,
            duration=info.duration,
            added_at=media.added_at,
        )


class MediaService:
    def __init__(self, events: EventLog, *, store: MediaStore, inspect: Inspect, usage: Usage, clock: Clock) -> None:
        self.events = events
        self.store = store
        self.inspect = inspect
        self.usage = usage
        self.clock = clock

    def add(self, workspace: str, data: bytes, *, filename: str, alt_text: str | None = None) -> MediaView:
        """Add a file; the same bytes again give the same media (its alt text updated if given)."""
        info = self.inspect(data)
        self.store.put(data)
        existing = self._find(workspace, media_id(workspace, info.sha256))
        if existing is not None:
            if existing.deleted:
                existing.restore(alt_text, now=self.clock())
            elif alt_text is not None:
                existing.change_alt_text(alt_text, now=self.clock())
            self.events.save(existing)
            return MediaView.of(existing)
        media = Media.add(workspace=workspace, info=info, filename=filename, alt_text=alt_text, now=self.clock())
        try:
            self.events.save(media)
        except IntegrityError:  # the same bytes added by another request a moment ago
            return self.get(workspace, str(media.id))
        return MediaView.of(media)

    def get(self, workspace: str, identifier: str) -> MediaView:
        return MediaView.of(self._get(workspace, identifier))

    def info(self, workspace: str, identifier: str) -> MediaInfo:
        return self._get(workspace, identifier).info

    def infos(self, workspace: str, identifiers: Iterable[str]) -> dict[str, MediaInfo]:
        """The facts of each media id known in `workspace` (unknown ones are left out)."""
        return {identifier: media.info for identifier, media in self._known(workspace, identifiers).items()}

    def _known(self, workspace: str, identifiers: Iterable[str]) -> dict[str, Media]:
        """Each media id of `workspace` that exists and is not deleted, read in one query."""
        wanted = {identifier: _uuid(identifier) for identifier in dict.fromkeys(identifiers)}
        loaded = self.events.get_many([u for u in wanted.values() if u is not None]) if wanted else {}
        found: dict[str, Media] = {}
        for identifier, key in wanted.items():
            media = loaded.get(key) if key is not None else None
            if isinstance(media, Media) and media.workspace == workspace and not media.deleted:
                found[identifier] = media
        return found

    def all(self, workspace: str) -> list[MediaView]:
        ids = list(self.events.ids_created_by(Media.Added))
        found = self.events.get_many(ids).values()
        views = [MediaView.of(m) for m in found if isinstance(m, Media) and m.workspace == workspace and not m.deleted]
        return sorted(views, key=lambda v: v.added_at)

    def describe(self, workspace: str, identifier: str, alt_text: str | None) -> MediaView:
        media = self._get(workspace, identifier)
        media.change_alt_text(alt_text, now=self.clock())
        self.events.save(media)
        return MediaView.of(media)

    def delete(self, workspace: str, identifier: str) -> None:
        media = self._get(workspace, identifier)
        media.delete(used_by=self.usage(workspace, str(media.id)), now=self.clock())
        self.events.save(media)

    def read(self, workspace: str, identifier: str) -> bytes:
        return self.store.read(self._get(workspace, identifier).info.sha256)

    def resolve(self, workspace: str, content: Content) -> Content:
        """The content with each media reference completed from the library: the file's kind,
        and the library's alt text where the post gives none. Unknown references stay as they
        are (validation names them)."""
        known = self._known(workspace, content.media_ids)
        if not known:
            return content

        def complete(items: tuple[MediaRef, ...]) -> tuple[MediaRef, ...]:
            done = []
            for item in items:
                media = known.get(item.ref)
                if media is None:
                    done.append(item)
                    continue
                alt = item.alt_text if (item.alt_text or "").strip() else media.alt_text
                done.append(item.model_copy(update={"kind": media.info.kind, "alt_text": alt}))
            return tuple(done)

        return content.model_copy(
            update={
                "media": complete(content.media),
                "thread": tuple(ThreadPart(text=p.text, media=complete(p.media)) for p in content.thread),
            }
        )

    def _get(self, workspace: str, identifier: str) -> Media:
        media = self._find(workspace, _uuid(identifier))
        if media is None or media.deleted:
            raise MediaNotFound(f"no media {identifier} in this workspace")
        return media

    def _find(self, workspace: str, identifier: UUID | None) -> Media | None:
        if identifier is None:
            return None
        try:
            media = self.events.get(identifier)
        except AggregateNotFoundError:
            return None
        if not isinstance(media, Media) or media.workspace != workspace:
            return None  # another workspace's media does not exist, as far as this one can tell
        return media


def _uuid(identifier: str) -> UUID | None:
    try:
        return UUID(identifier)
    except ValueError:
        return None
