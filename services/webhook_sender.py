"""The webhook sender: plans announcements from the log, then sends what is due, signed, and
records every attempt as an event. Retries back off; `replay` sends again what went out."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from uuid import UUID

from domain.webhook import WebhookDelivery
from projections.runner import ProjectionRunner
from projections.webhook_outbox import OutboxView
from services.ports import Metrics, NoMetrics
from services.webhooks import WebhookService
from services.workspace_service import WorkspaceService

Send = Callable[[WebhookDelivery, str, datetime], Awaitable[tuple[int | None, str | None]]]


class WebhookSender:
    def __init__(
        self,
        webhooks: WebhookService,
        workspaces: WorkspaceService,
        sealer: Callable[[], Any],
        outbox: OutboxView,
        runner: ProjectionRunner,
        batch: int = 50,
        metrics: Metrics | None = None,
    ) -> None:
        self.webhooks = webhooks
        self.workspaces = workspaces
        self.sealer = sealer
        self.outbox = outbox
        self.runner = runner  # keeps the outbox folded from the log
        self.batch = batch
        self.metrics = metrics or NoMetrics()

    def plan_pending(self) -> int:
        """Turn pending announcements into deliveries (each planned once, whatever happens)."""
        pending = self.outbox.pending(self.batch * 4)
        for item in pending:
            self.webhooks.plan(
                workspace=item.workspace,
                endpoint_id=item.endpoint_id,
                url=item.url,
                event_type=item.event_type,
                subject=item.subject,
                payload=json.loads(item.payload),
            )
        self.outbox.forget_pending([item.delivery_id for item in pending])
        return len(pending)

    async def tick(self, send: Send) -> int:
        """Plan from new events, then send every due delivery once; return how many were sent."""
        await asyncio.to_thread(self.runner.catch_up)
        if await asyncio.to_thread(self.plan_pending):
            await asyncio.to_thread(self.runner.catch_up)
        due = await asyncio.to_thread(self.outbox.due, self.webhooks.clock(), self.batch)
        sent = await asyncio.gather(*(self._deliver(send, UUID(d)) for d in due))
        await asyncio.to_thread(self.runner.catch_up)
        return sum(sent)

    async def _deliver(self, send: Send, delivery_id: UUID) -> int:
        delivery = await asyncio.to_thread(self.webhooks.get, delivery_id)
        if delivery.state != "pending":
            return 0
        try:
            secret = await asyncio.to_thread(
                self.workspaces.endpoint_secret, delivery.workspace, delivery.endpoint_id, self.sealer()
            )
        except KeyError:
            status: int | None = None
            error: str | None = "endpoint_removed"
        else:
            status, error = await send(delivery, secret, self.webhooks.clock())
        await asyncio.to_thread(self.webhooks.record, delivery, status=status, error=error)
        self.metrics.webhook_delivered("delivered" if status is not None and 200 <= status < 300 else "failed")
        return 1

    def replay(self, since: datetime, workspace: str | None = None) -> int:
        """Send again every delivery planned since `since` (each new attempt is an event)."""
        return self.webhooks.resend([UUID(d) for d in self.outbox.planned_since(since, workspace)])
