"""/v1/workspaces/{workspace_id}/settings: the workspace's defaults (for now, whether its
posts wait for an approver before they are queued)."""

from __future__ import annotations

import asyncio
from uuid import UUID

from aiohttp import web
from pydantic import BaseModel, Field, StrictBool

from infrastructure.api.context import Context
from infrastructure.api.errors import json_response
from infrastructure.api.guards import json_of, workspace_of
from infrastructure.api.keys import CTX
from infrastructure.api.models import Strict


class SetSettings(Strict):
    approval: StrictBool = Field(
        description="every post waits for an approver (a key with the approve scope) before it is queued; "
        "an account connected with its own approval setting keeps it"
    )


class SettingsOut(BaseModel):
    approval: bool


async def get_settings(request: web.Request) -> web.Response:
    ctx: Context = request.app[CTX]
    workspace = await asyncio.to_thread(ctx.workspaces.get, UUID(workspace_of(request)))
    return json_response(SettingsOut(approval=workspace.approval).model_dump())


async def set_settings(request: web.Request) -> web.Response:
    ctx: Context = request.app[CTX]
    body = SetSettings.model_validate(await json_of(request))
    required = await asyncio.to_thread(ctx.workspaces.set_approval, UUID(workspace_of(request)), body.approval)
    return json_response(SettingsOut(approval=required).model_dump())
