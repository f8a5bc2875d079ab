"""/v1/workspaces/{workspace_id}/evergreen: pools of evergreen posts, recycled into their
accounts' free queue slots by the planner part of `herald serve` (or `herald evergreen
fill`). Create, list, read, pause, resume, delete."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any
from uuid import UUID

from aiohttp import web

from domain.evergreen import EvergreenItem, PoolNotFound
from domain.rule import Target
from infrastructure.api.context import Context
from infrastructure.api.errors import json_response
from infrastructure.api.evergreen_models import CreatePool, PoolAction, PoolOut
from infrastructure.api.guards import json_of, workspace_of
from infrastructure.api.keys import CTX
from services.evergreen import PoolView


def pool_out(view: PoolView) -> dict[str, Any]:
    return PoolOut(
        id=view.id,
        name=view.name,
        targets=[{"account": t.account, "platform": t.platform} for t in view.targets],
        items=[{"key": item.key, "variants": len(item.variants)} for item in view.items],
        min_interval_days=view.min_interval_seconds / 86400,
        category=view.category,
        paused=view.paused,
        recycled=view.recycled,
    ).model_dump(mode="json")


async def create(request: web.Request) -> web.Response:
    ctx: Context = request.app[CTX]
    body = CreatePool.model_validate(await json_of(request))
    workspace = workspace_of(request)
    if not ctx.generic_platform:
        for target in body.targets:
            await asyncio.to_thread(ctx.accounts.require, workspace, target.account, target.platform)
    view = await asyncio.to_thread(
        lambda: ctx.herald.evergreen.create(
            workspace,
            name=body.name,
            targets=[Target(account=t.account, platform=t.platform) for t in body.targets],
            items=[
                EvergreenItem(key=item.key, variants=tuple(v.to_domain() for v in item.variants)) for item in body.items
            ],
            min_interval=timedelta(days=body.min_interval_days),
            category=body.category,
        )
    )
    return json_response(pool_out(view), 201)


async def list_pools(request: web.Request) -> web.Response:
    ctx: Context = request.app[CTX]
    views = await asyncio.to_thread(ctx.herald.evergreen.all, workspace_of(request))
    return json_response({"items": [pool_out(v) for v in views]})


async def get_pool(request: web.Request) -> web.Response:
    return await _act(request, "get")


async def pause(request: web.Request) -> web.Response:
    return await _act(request, "pause")


async def resume(request: web.Request) -> web.Response:
    return await _act(request, "resume")


async def delete(request: web.Request) -> web.Response:
    return await _act(request, "delete")


async def _act(request: web.Request, action: str) -> web.Response:
    ctx: Context = request.app[CTX]
    try:
        pool_id = UUID(request.match_info["pool_id"])
    except ValueError:
        raise PoolNotFound(f"no evergreen pool {request.match_info['pool_id']!r} in this workspace") from None
    if request.method == "POST":
        PoolAction.model_validate(await json_of(request, empty={}))
    view = await asyncio.to_thread(getattr(ctx.herald.evergreen, action), workspace_of(request), pool_id)
    return json_response(pool_out(view))
