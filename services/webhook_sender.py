"""The webhook sender: plans announcements from the log, then sends what is due, signed, and
records every attempt as an event. Retries back off; `replay` sends again what went out."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Any
from uuid import UUID

import aiohttp

from projections.due_index import instant
from projections.read_store import ReadStore
from projections.runner import ProjectionRunner
from services.webhooks import Webhooks, WebhookService, send
from services.workspace_service import WorkspaceService


class WebhookSender:
    def __init__(
        self, webhooks: WebhookService, workspaces: WorkspaceService, sealer: Any, store: ReadStore, batch: int = 50
    ) -> None:
        self.webhooks = webhooks
        self.workspaces = workspaces
        self.sealer = sealer
        self.store = store
        self.batch = batch
        endpoints_of = lambda workspace: [(e.endpoint_id, e.url, e.events) for e in workspaces.endpoints(workspace)]  # noqa: E731
        self.runner = ProjectionRunner(webhooks, store, Webhooks(webhooks, endpoints_of))

    def due(self, now: datetime) -> list[str]:
        with self.store.transaction() as cursor:
            cursor.execute(
                "SELECT delivery_id FROM webhook_outbox WHERE state = 'pending' AND next_attempt_at <= %s"
                " ORDER BY next_attempt_at LIMIT %s",
                [instant(now), self.batch],
            )
            return [row[0] for row in cursor.fetchall()]

    def plan_pending(self) -> int:
        """Turn pending announcements into deliveries (each planned once, whatever happens)."""
        with self.store.transaction() as cursor:
            cursor.execute(
                "SELECT delivery_id, workspace, endpoint_id, url, event_type, subject, payload FROM webhook_pending"
                " LIMIT %s",
                [self.batch * 4],
            )
            pending = cursor.fetchall()
        for _, workspace, endpoint_id, url, event_type, subject, payload in pending:
            self.webhooks.plan(
                workspace=workspace,
                endpoint_id=endpoint_id,
                url=url,
                event_type=event_type,
                subject=subject,
                payload=json.loads(payload),
            )
        if pending:
            with self.store.transaction() as cursor:
                cursor.executemany("DELETE FROM webhook_pending WHERE delivery_id = %s", [[row[0]] for row in pending])
        return len(pending)

    async def tick(self, session: aiohttp.ClientSession) -> int:
        """Plan from new events, then send every due delivery once; return how many were sent."""
        await asyncio.to_thread(self.runner.catch_up)
        if await asyncio.to_thread(self.plan_pending):
            await asyncio.to_thread(self.runner.catch_up)
        due = await asyncio.to_thread(self.due, self.webhooks.clock())
        sent = await asyncio.gather(*(self._deliver(session, UUID(d)) for d in due))
        await asyncio.to_thread(self.runner.catch_up)
        return sum(sent)

    async def _deliver(self, session: aiohttp.ClientSession, delivery_id: UUID) -> int:
        delivery = await asyncio.to_thread(self.webhooks.get, delivery_id)
        if delivery.state != "pending":
            return 0
        try:
            secret = await asyncio.to_thread(
                self.workspaces.endpoint_secret, delivery.workspace, delivery.endpoint_id, self.sealer
            )
        except KeyError:
            status, error = None, "endpoint_removed"
        else:
            status, error = await send(session, delivery, secret, self.webhooks.clock())
        await asyncio.to_thread(self.webhooks.record, delivery, status=status, error=error)
        return 1

    def replay(self, since: datetime, workspace: str | None = None) -> int:
        """Send again every delivery planned since `since` (each new attempt is an event)."""
        with self.store.transaction() as cursor:
            clause, params = (
                ("", [instant(since)]) if workspace is None else (" AND workspace = %s", [instant(since), workspace])
            )
            cursor.execute(f"SELECT delivery_id FROM webhook_outbox WHERE planned_at >= %s{clause}", params)
            ids = [UUID(row[0]) for row in cursor.fetchall()]
        return self.webhooks.resend(ids)
