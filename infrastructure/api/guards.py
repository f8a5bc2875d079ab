"""What every request passes before its handler: authentication confined to one workspace,
scopes, and idempotency for every POST (Stripe's semantics, the IETF Idempotency-Key draft).
The records behind them are in `infrastructure/persistence/`."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import orjson
from aiohttp import web

from infrastructure.api.errors import ApiError
from infrastructure.api.keys import CALLER
from infrastructure.persistence.idempotency import IdempotencyStore
from services.workspace_service import Caller, WorkspaceService


def workspace_of(request: web.Request) -> str:
    return str(request[CALLER].workspace_id)


async def authenticate(workspaces: WorkspaceService, request: web.Request) -> Caller:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        raise ApiError(401, "unauthenticated", "send Authorization: Bearer <api key>", "Authorization")
    caller = await asyncio.to_thread(workspaces.authenticate, header.removeprefix("Bearer ").strip())
    wanted = request.match_info.get("workspace_id")
    if wanted is not None and wanted != str(caller.workspace_id):
        # another workspace's data does not exist, as far as this key can tell
        if "post_id" in request.match_info:
            raise ApiError(404, "post_not_found", f"no post with id {request.match_info['post_id']}", "post_id")
        raise ApiError(404, "workspace_not_found", f"no workspace {wanted}", "workspace_id")
    needed = "read" if request.method in ("GET", "HEAD") else "write"
    if needed not in caller.scopes:
        raise ApiError(403, "forbidden_scope", f"this key lacks the {needed!r} scope", "Authorization")
    return caller


async def idempotent(store: IdempotencyStore, request: web.Request, handler: Any) -> web.StreamResponse:
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key:
        raise ApiError(400, "idempotency_key_missing", "every POST needs an Idempotency-Key header", "Idempotency-Key")
    if len(key) > 255:
        raise ApiError(
            400, "idempotency_key_invalid", "an Idempotency-Key has at most 255 characters", "Idempotency-Key"
        )
    raw = await request.read()
    request_hash = hashlib.sha256(request.method.encode() + b" " + request.path.encode() + b"\n" + raw).hexdigest()
    workspace = workspace_of(request)
    stored = await asyncio.to_thread(store.begin, workspace, key, request_hash)
    if stored is not None:
        status, body = stored
        return web.Response(
            text=body, status=status, content_type="application/json", headers={"Idempotent-Replayed": "true"}
        )
    try:
        response = await handler(request)
    except BaseException:
        await asyncio.to_thread(store.abandon, workspace, key)
        raise
    if isinstance(response, web.Response) and response.status < 500:
        body = response.text or ""
        await asyncio.to_thread(store.finish, workspace, key, response.status, body)
    else:
        await asyncio.to_thread(store.abandon, workspace, key)
    return response


def body_json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as problem:
        raise ApiError(400, "invalid_json", f"the body is not JSON: {problem}", "body") from None
