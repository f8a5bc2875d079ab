"""The reconciler: settles what the dispatcher could not know. It never publishes.

An expired lease becomes ambiguous. For each ambiguous post it asks the platform to look for
the post over the whole window in which an attempt could have landed, and records what the
domain decides from that look (`decisions.reconcile`): found → delivered; proven absent →
released to resume under the same key (or failed, past the deadline); not provable →
listed for support, never sent again. Held posts are released once what held them is mended,
and fail at their deadline; queued posts past their deadline fail.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any
from uuid import UUID

from domain.decisions import AccountStatus
from domain.errors import HeraldError
from projections.due_index import DueIndexView
from services.dispatching import DispatchCommands
from services.ports import Clock
from services.routing import Held, Router, route_of

log = logging.getLogger("herald.reconciler")


class Reconciler:
    def __init__(
        self,
        dispatch: DispatchCommands,
        due_index: DueIndexView,
        router: Router,
        clock: Clock,
        batch: int = 100,
        held_every: float = 2.0,
    ) -> None:
        self.dispatch = dispatch
        self.due_index = due_index
        self.router = router
        self.clock = clock
        self.batch = batch
        self.held_every = held_every  # seconds between looks at held posts (each reads their accounts)
        self.held_looked_at = -1e9
        # where each walk round the ambiguous and held posts stands: every tick reads the next
        # batch, so a batch of posts that cannot be settled yet never hides the rest
        self.walks: dict[str, str] = {"ambiguous": "", "held": ""}

    async def tick(self) -> bool:
        """Expire leases, reconcile ambiguous posts, look again at held ones; True if anything changed."""
        expired = await asyncio.to_thread(self.due_index.expired_leases, self.clock(), self.batch)
        ambiguous = await asyncio.to_thread(self._walk, "ambiguous", self.due_index.ambiguous)
        changed = False
        for post_id in expired:
            changed |= await asyncio.to_thread(self._quietly, self.dispatch.expire_lease, UUID(post_id))
        results = await asyncio.gather(*(self.reconcile(UUID(post_id)) for post_id in ambiguous))
        return changed | any(results) | await self.release_held()

    async def reconcile(self, post_id: UUID) -> bool:
        found = await asyncio.to_thread(self._quietly_get, post_id)
        if found is None:
            return False  # the index lagged; someone settled it already
        workspace, intent = found
        route = await route_of(self.router, workspace, intent.account, intent.platform)
        if isinstance(route, Held):
            return False  # cannot look without the account: it stays visibly ambiguous
        try:
            search = await route.find(intent)
        except LookupError as problem:  # the platform did not answer: still ambiguous, look again next tick
            log.info("look-up failed: %s", problem, extra=intent.log_fields())
            return False
        except Exception:  # an adapter bug stays with this post
            log.exception("look-up broke", extra=intent.log_fields())
            return False
        fields = {**intent.log_fields(), "complete": search.complete, "found": len(search.found), "how": search.how}
        log.info("looked on the platform", extra=fields)
        return await asyncio.to_thread(self._quietly, self.dispatch.reconcile, post_id, search)

    async def release_held(self) -> bool:
        """Held posts whose account is mended go back to the queue; past their deadline they fail."""
        if time.monotonic() - self.held_looked_at < self.held_every:
            return False
        self.held_looked_at = time.monotonic()
        held = await asyncio.to_thread(self._walk, "held", self.due_index.held)
        statuses: dict[tuple[str, str], AccountStatus | None] = {}
        changed = False
        for post in held:
            key = (post.workspace, post.account)
            if key not in statuses:
                statuses[key] = await self.router.status(*key)
            try:
                changed |= await asyncio.to_thread(self.dispatch.release_hold, UUID(post.post_id), statuses[key])
            except HeraldError:
                continue  # changed by someone else meanwhile
        return changed

    async def fail_past_deadline(self) -> bool:
        """Queued posts whose deadline passed fail (`deadline_passed`), never go out late."""
        late = await asyncio.to_thread(self.due_index.past_deadline, self.clock(), self.batch)
        failed = False
        for post in late:
            failed |= await asyncio.to_thread(self._quietly, self.dispatch.pass_deadline, UUID(post.post_id))
        return failed

    def _walk(self, name: str, read: Callable[[int, str], list[Any]]) -> list[Any]:
        """The next batch of a walk round the posts `read` lists, starting again at the first
        post once it reaches the end."""
        batch = read(self.batch, self.walks[name])
        if not batch and self.walks[name]:  # the last round ended on a full batch
            batch = read(self.batch, "")
        if len(batch) < self.batch:  # the end of the round: the next batch starts again
            self.walks[name] = ""
        else:
            last = batch[-1]
            self.walks[name] = last if isinstance(last, str) else last.post_id
        return batch

    def _quietly_get(self, post_id: UUID) -> Any:
        try:
            return self.dispatch.ambiguous_intent(post_id)
        except HeraldError:
            return None

    @staticmethod
    def _quietly(command: Callable[..., Any], *args: Any) -> bool:
        """Run a command; a refusal means another worker got there first, which is fine."""
        try:
            command(*args)
        except HeraldError:
            return False
        return True
