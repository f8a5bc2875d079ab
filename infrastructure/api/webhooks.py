"""Webhook endpoints per workspace, and inbound platform callbacks (signed, fresh, once)."""

from __future__ import annotations

import asyncio
import os
from typing import Any
from uuid import UUID

import orjson
from aiohttp import web

from domain.errors import HeraldError
from domain.outcomes import RemotePost
from infrastructure.api.context import Context
from infrastructure.api.errors import ApiError, json_response
from infrastructure.api.guards import json_of, workspace_of
from infrastructure.api.keys import CTX
from infrastructure.api.server import read_body
from infrastructure.api.webhook_models import AddEndpoint, EndpointList, EndpointOut, InboundAck, Removed
from services.webhooks import verify


async def add_endpoint(request: web.Request) -> web.Response:
    ctx: Context = request.app[CTX]
    body = AddEndpoint.model_validate(await json_of(request))
    workspace = UUID(workspace_of(request))
    endpoint_id, secret = await asyncio.to_thread(
        ctx.workspaces.add_endpoint, workspace, body.url, body.events, ctx.accounts.sealer
    )
    out = EndpointOut(endpoint_id=endpoint_id, url=body.url, events=list(body.events), secret=secret)
    return json_response(out.model_dump(mode="json"), 201)


async def list_endpoints(request: web.Request) -> web.Response:
    ctx: Context = request.app[CTX]
    endpoints = await asyncio.to_thread(ctx.workspaces.endpoints, workspace_of(request))
    items = [EndpointOut(endpoint_id=e.endpoint_id, url=e.url, events=list(e.events)) for e in endpoints]
    return json_response(EndpointList(items=items).model_dump(mode="json"))


async def get_endpoint(request: web.Request) -> web.Response:
    ctx: Context = request.app[CTX]
    endpoint_id = request.match_info["endpoint_id"]
    endpoints = await asyncio.to_thread(ctx.workspaces.endpoints, workspace_of(request))
    for e in endpoints:
        if e.endpoint_id == endpoint_id:
            out = EndpointOut(endpoint_id=e.endpoint_id, url=e.url, events=list(e.events))
            return json_response(out.model_dump(mode="json"))
    raise ApiError(404, "endpoint_not_found", f"no webhook endpoint {endpoint_id}", "endpoint_id")


async def remove_endpoint(request: web.Request) -> web.Response:
    ctx: Context = request.app[CTX]
    endpoint_id = request.match_info["endpoint_id"]
    await asyncio.to_thread(ctx.workspaces.remove_endpoint, UUID(workspace_of(request)), endpoint_id)
    return json_response(Removed(removed=endpoint_id).model_dump())


async def inbound(request: web.Request) -> web.Response:
    """A platform's callback. Checked on the raw bytes; appended before anything happens."""
    ctx: Context = request.app[CTX]
    secret = os.environ.get("HERALD_INBOUND_SECRET", "")
    if not secret:
        raise ApiError(503, "inbound_not_configured", "set HERALD_INBOUND_SECRET to accept callbacks", None)
    raw = await read_body(request)
    sent_at = verify(
        secret,
        request.headers.get("Herald-Timestamp", ""),
        request.headers.get("Herald-Signature", ""),
        raw,
        ctx.herald.clock(),
    )
    delivery = request.headers.get("Herald-Delivery-Id", "").strip()
    if not delivery or len(delivery) > 200:
        raise ApiError(
            400, "delivery_id_missing", "send Herald-Delivery-Id (at most 200 characters)", "Herald-Delivery-Id"
        )
    source = request.match_info["source"]
    fresh = await asyncio.to_thread(
        ctx.webhooks.receive, source=source, sender_delivery_id=delivery, sent_at=sent_at, body=raw
    )
    if fresh:  # side effects only after the delivery is committed, and only once
        await asyncio.to_thread(confirm_from_callback, ctx, raw, delivery)
    return json_response(InboundAck(accepted=True, duplicate=not fresh).model_dump())


def confirm_from_callback(ctx: Context, raw: bytes, delivery: str) -> None:
    """A platform confirming a post we could not settle: it is delivered, with this evidence."""
    try:
        payload: Any = orjson.loads(raw)
        post_id = UUID(str(payload["post_id"]))
        found = RemotePost(remote_id=str(payload["remote_id"]), permalink=payload.get("permalink"))
    except (ValueError, KeyError, TypeError):
        return  # recorded as received; nothing to act on
    try:
        if ctx.posts.get_post(post_id).state == "ambiguous":
            ctx.herald.dispatch.confirm_delivered(post_id, found, evidence=f"platform callback {delivery}")
    except HeraldError:
        pass
