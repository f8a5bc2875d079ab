"""/v1/workspaces/{workspace_id}/posts: create, list, read, revise, cancel, timeline."""

from __future__ import annotations

import asyncio
import base64
from typing import Any
from uuid import UUID

from aiohttp import web

from domain.errors import PostNotFound
from domain.outcomes import RemotePost
from domain.text import check_text
from infrastructure.api.context import Context
from infrastructure.api.errors import ApiError, json_response
from infrastructure.api.guards import body_json, workspace_of
from infrastructure.api.keys import CALLER, CTX
from infrastructure.api.models import (
    AttentionOut,
    CreatePost,
    PatchPost,
    PostOut,
    PostPage,
    Settle,
    TimelineOut,
    WaitingOut,
)
from infrastructure.zones import parse_instant
from projections.timeline import summary
from services.results import PostView

PAGE_MAX = 100


def post_out(view: PostView) -> dict[str, Any]:
    return PostOut.model_validate(view.model_dump()).model_dump(mode="json")


def post_id_of(request: web.Request) -> UUID:
    text = request.match_info["post_id"]
    try:
        return UUID(text)
    except ValueError:
        raise ApiError(404, "post_not_found", f"no post with id {text}", "post_id") from None


async def load(ctx: Context, request: web.Request) -> PostView:
    """The post, if it belongs to the caller's workspace; else exactly as if it did not exist."""
    post_id = post_id_of(request)
    view = await asyncio.to_thread(ctx.posts.get_post, post_id)
    if view.workspace != workspace_of(request):
        raise PostNotFound(f"no post with id {post_id}")
    return view


def instant_of(text: str | None, timezone: str | None) -> Any:
    return parse_instant(text, timezone) if text is not None else None


async def create(request: web.Request) -> web.Response:
    ctx: Context = request.app[CTX]
    body = CreatePost.model_validate(body_json(await request.read()))
    await asyncio.to_thread(ctx.limiter.take, workspace_of(request))
    common = {
        "account": body.account,
        "platform": body.platform,
        "content": body.content.to_domain(),
        "external_id": body.external_id,
        "workspace": workspace_of(request),
    }
    if body.mode == "draft":
        post_id = await asyncio.to_thread(lambda: ctx.posts.draft(**common))
    elif body.mode == "now":
        post_id = await asyncio.to_thread(lambda: ctx.posts.publish_now(**common, when_full=body.when_full))
    else:
        if body.scheduled_at is None:
            raise ApiError(422, "scheduled_at_missing", "a scheduled post needs scheduled_at", "scheduled_at")
        due = instant_of(body.scheduled_at, body.timezone)
        post_id = await asyncio.to_thread(
            lambda: ctx.posts.schedule(**common, scheduled_at=due, when_full=body.when_full)
        )
    view = await asyncio.to_thread(ctx.posts.get_post, post_id)
    return json_response(post_out(view), 201)


async def list_posts(request: web.Request) -> web.Response:
    ctx: Context = request.app[CTX]
    query = request.query
    try:
        limit = int(query.get("limit", "50"))
        after = int(base64.urlsafe_b64decode(query["cursor"].encode()).decode()) if query.get("cursor") else 0
    except (ValueError, UnicodeDecodeError):
        raise ApiError(
            422, "invalid_field", "limit must be a number and cursor one given by this API", "cursor"
        ) from None
    if not 1 <= limit <= PAGE_MAX:
        raise ApiError(422, "invalid_field", f"limit must be between 1 and {PAGE_MAX}", "limit")
    for name in ("status", "account", "platform", "external_id", "scheduled_from", "scheduled_to"):
        check_text(query.get(name, ""), field=name)  # a NUL here would reach the database
    filters: dict[str, Any] = {
        "state": query.get("status"),
        "account": query.get("account"),
        "platform": query.get("platform"),
        "external_id": query.get("external_id"),
        "scheduled_from": instant_of(query.get("scheduled_from"), None),
        "scheduled_to": instant_of(query.get("scheduled_to"), None),
    }
    rows = await asyncio.to_thread(ctx.page, workspace_of(request), after, limit, filters)
    cursor = base64.urlsafe_b64encode(str(rows[-1][1]).encode()).decode() if len(rows) == limit else None
    page = PostPage(items=[PostOut.model_validate(view) for view, _ in rows], next_cursor=cursor)
    return json_response(page.model_dump(mode="json"))


async def get_post(request: web.Request) -> web.Response:
    return json_response(post_out(await load(request.app[CTX], request)))


async def patch_post(request: web.Request) -> web.Response:
    ctx: Context = request.app[CTX]
    view = await load(ctx, request)
    match = request.headers.get("If-Match", "").strip().strip('"').removeprefix("W/").strip('"')
    if not match:
        raise ApiError(428, "if_match_required", "send If-Match with the post's version", "If-Match")
    if not match.isdigit():
        raise ApiError(412, "version_mismatch", f"If-Match {match!r} is not a version number", "If-Match")
    body = PatchPost.model_validate(body_json(await request.read()))
    if int(match) != view.version:
        raise ApiError(412, "version_mismatch", f"the post is at version {view.version}, not {match}", "If-Match")
    due = instant_of(body.scheduled_at, body.timezone)
    fresh = await asyncio.to_thread(
        lambda: ctx.posts.revise(
            view.id,
            expected_version=int(match),
            content=body.content.to_domain() if body.content else None,
            scheduled_at=due,
            when_full=body.when_full,
        )
    )
    return json_response(post_out(fresh), headers={"ETag": f'"{fresh.version}"'})


async def delete_post(request: web.Request) -> web.Response:
    ctx: Context = request.app[CTX]
    view = await load(ctx, request)
    canceled = await asyncio.to_thread(ctx.posts.cancel, view.id, "canceled through the API")
    return json_response(post_out(canceled))


async def timeline(request: web.Request) -> web.Response:
    ctx: Context = request.app[CTX]
    view = await load(ctx, request)
    rows = await asyncio.to_thread(ctx.timeline_rows, str(view.id))
    out = TimelineOut(summary=summary(rows), events=rows)  # type: ignore[arg-type]
    return json_response(out.model_dump(mode="json"))


async def attention(request: web.Request) -> web.Response:
    """Posts held, or waiting for support to settle them, oldest first."""
    ctx: Context = request.app[CTX]
    waiting = await asyncio.to_thread(ctx.needing_attention, workspace_of(request))
    items = [WaitingOut(**{**w.__dict__, "post_id": UUID(w.post_id)}) for w in waiting]
    return json_response(AttentionOut(items=items).model_dump(mode="json"))


async def settle(request: web.Request) -> web.Response:
    """Support's answer for a post the reconciler could not settle: live, or not."""
    ctx: Context = request.app[CTX]
    view = await load(ctx, request)
    body = Settle.model_validate(body_json(await request.read()))
    if body.live and not body.remote_id:
        raise ApiError(422, "remote_id_missing", "a live post needs its remote_id on the platform", "remote_id")
    found = RemotePost(remote_id=body.remote_id, permalink=body.permalink) if body.live and body.remote_id else None
    actor = f"key {request[CALLER].key_id}"
    await asyncio.to_thread(lambda: ctx.herald.dispatch.settle(view.id, live=found, actor=actor, note=body.note))
    return json_response(post_out(await asyncio.to_thread(ctx.posts.get_post, view.id)))
