"""The reconciler: settles what the dispatcher could not know. It never publishes.

An expired lease becomes ambiguous. For each ambiguous post it asks the platform whether the
post exists, and records the decision with its evidence: found → delivered (reconciled);
not found with the deadline ahead → released for a retry under the same publish key;
not found after the deadline → failed. Queued posts past their deadline fail too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any
from uuid import UUID

from domain.errors import HeraldError
from domain.intent import PublishIntent
from projections.due_index import DueIndex, DuePost
from projections.read_store import ReadStore
from services.post_service import PostService
from services.routing import Held, Router, route_of


class Reconciler:
    def __init__(
        self,
        service: PostService,
        read_store: ReadStore,
        router: Router,
        batch: int = 100,
    ) -> None:
        self.service = service
        self.store = read_store
        self.index = DueIndex()
        self.router = router
        self.batch = batch

    async def tick(self) -> bool:
        """Expire leases and reconcile ambiguous posts; True if anything changed."""
        expired, ambiguous = await asyncio.to_thread(self._unsettled)
        changed = False
        for post_id in expired:
            changed |= await asyncio.to_thread(self._quietly, self.service.expire_lease, UUID(post_id))
        results = await asyncio.gather(*(self.reconcile(UUID(post_id)) for post_id in ambiguous))
        return changed or any(results)

    def _unsettled(self) -> tuple[list[str], list[str]]:
        with self.store.transaction() as cursor:
            expired = self.index.expired_leases(cursor, self.service.clock(), self.batch)
            return expired, self.index.ambiguous(cursor, self.batch)

    async def reconcile(self, post_id: UUID) -> bool:
        post = await asyncio.to_thread(self.service.get_post, post_id)
        if post.state != "ambiguous" or post.publish_key is None:
            return False  # the index lagged; someone settled it already
        intent = PublishIntent(
            post_id=post_id,
            account=post.account,
            platform=post.platform,  # type: ignore[arg-type]
            publish_key=post.publish_key,
            content=post.content,
            attempt=post.attempt,
            due_at=post.due_at,
            container_id=post.container_id,
        )
        route = await route_of(self.router, post.workspace, post.account, post.platform)
        if isinstance(route, Held):
            return False  # cannot look without the account: it stays visibly ambiguous
        try:
            found = await route.find(intent)
        except Exception:  # the platform did not answer: still ambiguous, look again next tick
            return False
        now = self.service.clock()
        if found is not None:
            evidence = f"found on the platform by publish key {post.publish_key} as {found.remote_id}"
            action = lambda: self.service.confirm_delivered(post_id, found, evidence=evidence)  # noqa: E731
        elif post.deadline is not None and now <= post.deadline:
            evidence = f"no post with publish key {post.publish_key} on the platform at {now.isoformat()}"
            action = lambda: self.service.release_for_retry(post_id, evidence=evidence)  # noqa: E731
        else:
            action = lambda: self.service.fail(post_id, "deadline_passed")  # noqa: E731
        return await asyncio.to_thread(self._quietly, action)

    async def fail_past_deadline(self) -> bool:
        """Queued posts whose deadline passed fail, never go out late: with `deadline_passed`,
        or with the reason their account held them (`account_disconnected`, `account_unknown`)."""
        late = await asyncio.to_thread(self._late)
        failed = False
        for post in late:
            route = await route_of(self.router, post.workspace, post.account, post.platform)
            reason = route.reason if isinstance(route, Held) else "deadline_passed"
            failed |= await asyncio.to_thread(self._quietly, self.service.fail, UUID(post.post_id), reason)
        return failed

    def _late(self) -> list[DuePost]:
        with self.store.transaction() as cursor:
            return self.index.past_deadline(cursor, self.service.clock(), self.batch)

    @staticmethod
    def _quietly(command: Callable[..., Any], *args: Any) -> bool:
        """Run a command; a refusal means another worker got there first, which is fine."""
        try:
            command(*args)
        except HeraldError:
            return False
        return True
