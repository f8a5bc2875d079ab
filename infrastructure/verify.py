"""`herald verify`'s reading side: every post event from the store, in stored order, fed to
the pure verifier (`domain/verification.py`) in batches, with a progress callback.

An event that cannot be decoded is reported as a mismatch of its own, and its post is
skipped from then on: one damaged row never stops the check of every other post."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.utils import get_topic

from domain.post import LIFECYCLE
from domain.verification import Mismatch, Verifier

if TYPE_CHECKING:
    from infrastructure.bootstrap import Herald

BATCH = 5000
POST_TOPICS = [get_topic(kind) for kind in LIFECYCLE]  # every event a post has


def verify(
    herald: Herald,
    *,
    since: datetime | None = None,
    workspace: str | None = None,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> Verifier:
    """Check every decision recorded in the store; `progress(events read, last position)`."""
    verifier = Verifier(since=since, workspace=workspace)
    recorder, mapper = herald.events.recorder, herald.events.mapper
    last = int(recorder.max_notification_id() or 0)
    damaged: set[UUID] = set()
    position = 0
    while position < last:
        batch = recorder.select_notifications(position + 1, BATCH, stop=last, topics=POST_TOPICS)
        if not batch:
            break
        for record in batch:
            post_id = UUID(str(record.originator_id))
            if post_id in damaged:
                continue
            try:
                event: Any = mapper.to_domain_event(record)
            except Exception as problem:  # a row no longer decodes: say which, and go on
                damaged.add(post_id)
                where = verifier.workspace_of(post_id) or ""
                if workspace is None or where in ("", workspace):
                    verifier.mismatches.append(_undecodable(post_id, where, record, problem))
                continue
            verifier.feed(event)
        position = batch[-1].id
        progress(verifier.events, last)
    return verifier


def _undecodable(post_id: UUID, workspace: str, record: Any, problem: Exception) -> Mismatch:
    return Mismatch(
        post_id=post_id,
        workspace=workspace,
        position=record.originator_version,
        event=record.topic.rsplit(".", 1)[-1],
        at=None,
        rule="decode",
        version=0,
        expected={"event": "a stored event that decodes"},
        recorded={"error": f"{type(problem).__name__}: {str(problem)[:200]}"},
    )
