"""The reconciler: settles what the dispatcher could not know. It never publishes.

An expired lease becomes ambiguous. For each ambiguous post it asks the platform whether the
post exists, and records what the domain decides from that (`decisions.reconcile`): found →
delivered (reconciled); not found with the deadline ahead → released for a retry under the
same publish key; not found after the deadline → failed. Queued posts past their deadline fail.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any
from uuid import UUID

from domain.errors import HeraldError
from projections.due_index import DueIndexView
from services.dispatching import DispatchCommands
from services.ports import Clock
from services.routing import Held, Router, route_of


class Reconciler:
    def __init__(
        self, dispatch: DispatchCommands, due_index: DueIndexView, router: Router, clock: Clock, batch: int = 100
    ) -> None:
        self.dispatch = dispatch
        self.due_index = due_index
        self.router = router
        self.clock = clock
        self.batch = batch

    async def tick(self) -> bool:
        """Expire leases and reconcile ambiguous posts; True if anything changed."""
        expired = await asyncio.to_thread(self.due_index.expired_leases, self.clock(), self.batch)
        ambiguous = await asyncio.to_thread(self.due_index.ambiguous, self.batch)
        changed = False
        for post_id in expired:
            changed |= await asyncio.to_thread(self._quietly, self.dispatch.expire_lease, UUID(post_id))
        results = await asyncio.gather(*(self.reconcile(UUID(post_id)) for post_id in ambiguous))
        return changed or any(results)

    async def reconcile(self, post_id: UUID) -> bool:
        found = await asyncio.to_thread(self._quietly_get, post_id)
        if found is None:
            return False  # the index lagged; someone settled it already
        workspace, intent = found
        route = await route_of(self.router, workspace, intent.account, intent.platform)
        if isinstance(route, Held):
            return False  # cannot look without the account: it stays visibly ambiguous
        try:
            remote = await route.find(intent)
        except Exception:  # the platform did not answer: still ambiguous, look again next tick
            return False
        return await asyncio.to_thread(self._quietly, self.dispatch.reconcile, post_id, remote)

    async def fail_past_deadline(self) -> bool:
        """Queued posts whose deadline passed fail, never go out late: with `deadline_passed`,
        or with the reason their account held them (`account_disconnected`, `account_unknown`)."""
        late = await asyncio.to_thread(self.due_index.past_deadline, self.clock(), self.batch)
        failed = False
        for post in late:
            route = await route_of(self.router, post.workspace, post.account, post.platform)
            reason = route.reason if isinstance(route, Held) else "deadline_passed"
            failed |= await asyncio.to_thread(self._quietly, self.dispatch.fail, UUID(post.post_id), reason)
        return failed

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
