"""Posts as the services load and save them: one at a time, or many in one transaction.

A claim is an event appended at the post's next version: when two writers race, the store's
unique (originator_id, version) rejects one, which becomes `ConcurrentChange` for a single
post and a per-post refusal in a batch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from domain.errors import ConcurrentChange, HeraldError, PostNotFound
from domain.post import Post
from services.due_hints import hints_of
from services.group_commit import GroupCommit
from services.kept_posts import KeptPosts
from services.ports import EventLog
from services.results import CommandResult, EventRecord

log = logging.getLogger("herald.posts")


class PostUnreadable(HeraldError):
    code = "post_unreadable"
    field = "post_id"


class PostRepository:
    def __init__(self, events: EventLog, kept: KeptPosts | None = None) -> None:
        self.events = events
        self.kept = kept or KeptPosts()  # posts this process saved lately, to change again without a read
        self.commit = GroupCommit(events.save)  # concurrent single saves share one transaction

    def get(self, post_id: UUID, version: int | None = None) -> Post:
        """The post, as it is (or was, at `version`)."""
        try:
            post = self.events.get(post_id, version)
        except AggregateNotFoundError:
            raise PostNotFound(f"no post with id {post_id}") from None
        except Exception as problem:  # its events cannot be read (written by another version?): its own trouble
            raise PostUnreadable(
                f"post {post_id} cannot be read from its events: {type(problem).__name__}"
            ) from problem
        if not isinstance(post, Post):
            raise PostNotFound(f"no post with id {post_id}")
        return post

    def save(self, post: Post) -> None:
        try:
            self.commit(list(post.collect_events()), hints_of([post]))
        except IntegrityError:
            raise ConcurrentChange(
                f"post {post.id} was changed by someone else at the same moment; read it and retry"
            ) from None
        self.kept.keep([post])

    def save_new(self, posts: Sequence[Post], also: Sequence[Any] = ()) -> None:
        """New posts (and `also`, other aggregates), in one transaction."""
        self.commit([event for item in (*posts, *also) for event in _events_of(item)], hints_of(posts))
        self.kept.keep(posts)

    def history(self, post_id: UUID) -> list[EventRecord]:
        """Every event of the post, oldest first, as support reads them."""
        records = [EventRecord.of(event) for event in self.events.history(post_id)]
        if not records or records[0].name != Post.Drafted.__name__:
            raise PostNotFound(f"no post with id {post_id}")
        return records

    def change(self, post_id: UUID, change: Callable[[Post], Any]) -> Post:
        """get → change → save one post; a refusal is raised before anything is saved."""
        post = self.get(post_id)
        change(post)
        self.save(post)
        return post

    def change_many(
        self,
        post_ids: Iterable[UUID],
        change: Callable[[Post], Any],
        before: Callable[[Iterable[Post]], None] | None = None,
    ) -> list[CommandResult]:
        """Apply `change` to each post and save all in one transaction (`before` sees the batch
        first). Posts this process saved lately start from where it left them (`KeptPosts`).

        A guard's refusal or a lost race concerns one post only: if the batch conflicts,
        each post is saved on its own so the others still succeed; a kept post that turns out
        stale is read afresh and changed again.
        """
        results: dict[UUID, CommandResult] = {}
        pending: dict[UUID, tuple[Post, list[Any]]] = {}
        ids = list(dict.fromkeys(post_ids))
        kept = self.kept.take(ids)
        loaded = kept | self._get_many([post_id for post_id in ids if post_id not in kept])
        if before is not None:
            before(loaded.values())

        def changed(post_id: UUID, post: Post | None) -> None:
            try:
                post = post or self.get(post_id)
                change(post)
            except HeraldError as refusal:
                if post is not None and post is kept.get(post_id):  # maybe stale: decide on the stored post
                    changed(post_id, None)
                else:
                    results[post_id] = CommandResult.refused(post_id, refusal)
                return
            except Exception as problem:  # a bug met by one post: the batch's others are still saved
                log.exception("ALARM: a command broke on post %s; nothing of it was saved", post_id)
                results[post_id] = CommandResult.broke(post_id, problem)
                return
            pending[post_id] = (post, list(post.collect_events()))
            results[post_id] = CommandResult.done(post_id, post)

        for post_id in ids:
            changed(post_id, loaded.get(post_id))
        if not pending:
            return list(results.values())
        try:
            self._save([event for _, events in pending.values() for event in events], [p for p, _ in pending.values()])
            self.kept.keep(post for post, _ in pending.values())
        except IntegrityError:
            for post_id, (post, events) in list(pending.items()):
                if self._saved_alone(post, events):
                    continue
                if post_id in kept:  # stale: someone appended since this process saved it
                    del pending[post_id]
                    changed(post_id, None)
                    if post_id not in pending:
                        continue  # refused on the stored post: that refusal is the answer
                    if self._saved_alone(*pending[post_id]):
                        continue
                results[post_id] = CommandResult.lost_race(post_id)
        return list(results.values())

    def _get_many(self, ids: Sequence[UUID]) -> dict[UUID, Post]:
        if len(ids) < 2:
            return {}
        return {i: post for i, post in self.events.get_many(ids).items() if isinstance(post, Post)}

    def _saved_alone(self, post: Post, events: list[Any]) -> bool:
        try:
            self._save(events, [post])
        except IntegrityError:
            return False
        self.kept.keep([post])
        return True

    def _save(self, events: list[Any], posts: list[Post]) -> None:
        """One transaction; posts it leaves ready to go now are announced with it (`due_hints`)."""
        self.events.save(*events, due=hints_of(posts))


def _events_of(item: Any) -> list[Any]:
    """An aggregate's pending events (collected: they leave it), or an event as it is."""
    if item is None:
        return []
    return list(item.collect_events()) if hasattr(item, "collect_events") else [item]
