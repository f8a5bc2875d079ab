"""/v1/workspaces/{workspace_id}/accounts/{name}/queue: an account's slot grid. Posts join it
with `mode: "queue"` on POST /posts."""

from __future__ import annotations

import asyncio
import secrets
from datetime import timedelta
from typing import Any

from aiohttp import web

from infrastructure.api.context import Context
from infrastructure.api.errors import json_response
from infrastructure.api.guards import json_of, workspace_of
from infrastructure.api.keys import CALLER, CTX
from infrastructure.api.plan_models import WEEKDAYS, QueueOut, ReorderQueue, SetQueue, ShuffleQueue
from services.queues import QueueView


def queue_out(view: QueueView) -> dict[str, Any]:
    return QueueOut(
        account=view.account,
        timezone=view.zone,
        slots=[{"weekday": WEEKDAYS[day], "at": at} for day, at in view.slots],
        min_gap_minutes=view.min_gap_seconds / 60,
        daily_cap=view.daily_cap,
        next_free=view.next_free,
        waiting=[post.model_dump() for post in view.waiting],
    ).model_dump(mode="json")


async def set_queue(request: web.Request) -> web.Response:
    ctx: Context = request.app[CTX]
    body = SetQueue.model_validate(await json_of(request))
    workspace, account = workspace_of(request), request.match_info["name"]
    if not ctx.generic_platform:
        await asyncio.to_thread(ctx.accounts.get, workspace, account)  # 404 for an account not connected
    view = await asyncio.to_thread(
        lambda: ctx.herald.queues.configure(
            workspace,
            account,
            zone=body.timezone,
            slots=[(WEEKDAYS.index(slot.weekday), slot.at) for slot in body.slots],
            min_gap=timedelta(minutes=body.min_gap_minutes),
            daily_cap=body.daily_cap,
        )
    )
    return json_response(queue_out(view))


async def get_queue(request: web.Request) -> web.Response:
    ctx: Context = request.app[CTX]
    view = await asyncio.to_thread(ctx.herald.queues.get, workspace_of(request), request.match_info["name"])
    return json_response(queue_out(view))


async def reorder(request: web.Request) -> web.Response:
    """Put the queue's waiting posts in a new order; their slots follow it."""
    ctx: Context = request.app[CTX]
    body = ReorderQueue.model_validate(await json_of(request))
    actor = f"key {request[CALLER].key_id}"
    view = await asyncio.to_thread(
        ctx.herald.queues.reorder, workspace_of(request), request.match_info["name"], body.order, actor=actor
    )
    return json_response(queue_out(view))


async def shuffle(request: web.Request) -> web.Response:
    """Shuffle the queue's waiting posts; the seed used is recorded in the queue's event."""
    ctx: Context = request.app[CTX]
    body = ShuffleQueue.model_validate(await json_of(request, empty={}))
    seed = body.seed if body.seed is not None else secrets.randbelow(2**31)
    actor = f"key {request[CALLER].key_id}"
    view = await asyncio.to_thread(
        ctx.herald.queues.shuffle, workspace_of(request), request.match_info["name"], seed, actor=actor
    )
    return json_response(queue_out(view))
