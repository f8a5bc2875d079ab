"""/v1/workspaces/{workspace_id}/accounts: connect, list, read, reconnect, disconnect."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from aiohttp import web

from infrastructure.api.context import Context
from infrastructure.api.errors import json_response
from infrastructure.api.guards import json_of, workspace_of
from infrastructure.api.keys import CTX
from infrastructure.api.models import AccountList, AccountOut, ConnectAccount, Reconnect
from services.account_service import AccountView


def account_out(view: AccountView) -> dict[str, Any]:
    return AccountOut.model_validate(view.model_dump()).model_dump(mode="json")


def expiry(ctx: Context, seconds: float | None) -> Any:
    return ctx.accounts.clock() + timedelta(seconds=seconds) if seconds else None


async def connect(request: web.Request) -> web.Response:
    ctx: Context = request.app[CTX]
    body = ConnectAccount.model_validate(await json_of(request))
    workspace = workspace_of(request)

    def run() -> AccountView:
        ctx.accounts.connect(
            name=body.name,
            platform=body.platform,
            handle=body.handle,
            remote_user_id=body.remote_user_id,
            credentials=dict(body.credentials),
            token_expires_at=expiry(ctx, body.expires_in),
            base_url=body.base_url,
            settings=dict(body.settings),
            workspace=workspace,
        )
        return ctx.accounts.get(workspace, body.name)

    return json_response(account_out(await asyncio.to_thread(run)), 201)


async def list_accounts(request: web.Request) -> web.Response:
    ctx: Context = request.app[CTX]
    views = await asyncio.to_thread(ctx.accounts.all, workspace_of(request))
    page = AccountList(items=[AccountOut.model_validate(v.model_dump()) for v in views])
    return json_response(page.model_dump(mode="json"))


async def get_account(request: web.Request) -> web.Response:
    ctx: Context = request.app[CTX]
    view = await asyncio.to_thread(ctx.accounts.get, workspace_of(request), request.match_info["name"])
    return json_response(account_out(view))


async def reconnect(request: web.Request) -> web.Response:
    ctx: Context = request.app[CTX]
    body = Reconnect.model_validate(await json_of(request))
    workspace, name = workspace_of(request), request.match_info["name"]

    def run() -> AccountView:
        ctx.accounts.reconnect(workspace, name, dict(body.credentials), expiry(ctx, body.expires_in))
        return ctx.accounts.get(workspace, name)

    return json_response(account_out(await asyncio.to_thread(run)))


async def disconnect(request: web.Request) -> web.Response:
    ctx: Context = request.app[CTX]
    workspace, name = workspace_of(request), request.match_info["name"]

    def run() -> AccountView:
        ctx.accounts.disconnect(workspace, name, "by_request", "Reconnect it through the API when wanted.")
        return ctx.accounts.get(workspace, name)

    return json_response(account_out(await asyncio.to_thread(run)))
