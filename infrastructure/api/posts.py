"""/v1/workspaces/{workspace_id}/posts: create, list, read, revise, cancel, timeline."""

from __future__ import annotations

import asyncio
import base64
from typing import Any
from uuid import UUID

from aiohttp import web

from domain.errors import HeraldError, PostNotFound
from domain.outcomes import RemotePost
from domain.platform import Platform
from domain.post import PostState
from domain.text import check_text
from infrastructure.api.context import Context
from infrastructure.api.errors import ApiError, json_response
from infrastructure.api.guards import json_of, workspace_of
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
    body = CreatePost.model_validate(await json_of(request))
    if not ctx.generic_platform:
        await asyncio.to_thread(ctx.accounts.require, workspace_of(request), body.account, body.platform)
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


FILTERS = ("status", "account", "platform", "external_id", "scheduled_from", "scheduled_to")
STATES = tuple(state.value for state in PostState)
CURSOR_MAX = 2**63 - 1  # positions are 64-bit integers in both stores


def list_query(query: Any) -> tuple[int, int, dict[str, Any]]:
    """(limit, position after, filters) from a list's query string; every problem is a 400
    naming its parameter."""

    def bad(field: str, message: str) -> ApiError:
        return ApiError(400, "invalid_field", message, field)

    unknown = sorted(set(query) - {"limit", "cursor", *FILTERS})
    if unknown:
        raise bad(unknown[0], f"unknown query parameter {unknown[0]!r}; filters are {', '.join(FILTERS)}")
    for name in query:
        try:
            check_text(query.get(name, ""), field=name)  # a NUL here would reach the database
        except HeraldError as problem:
            raise ApiError(400, problem.code, problem.message, name) from None
    text = query.get("limit", "50")
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= PAGE_MAX:
        raise bad("limit", f"limit must be a whole number from 1 to {PAGE_MAX}, not {text[:40]!r}")
    after = 0
    if query.get("cursor"):
        try:
            decoded = base64.urlsafe_b64decode(query["cursor"].encode()).decode()
            after = int(decoded) if decoded.isascii() and decoded.isdigit() else -1
        except (ValueError, UnicodeError):
            after = -1
        if not 0 <= after <= CURSOR_MAX:
            raise bad("cursor", "cursor must be a next_cursor this API gave")
    status = query.get("status")
    if status is not None and status not in STATES:
        raise bad("status", f"status must be one of {', '.join(STATES)}, not {status[:40]!r}")
    platform = query.get("platform")
    if platform is not None and platform not in {p.value for p in Platform}:
        raise bad("platform", f"platform must be one of {', '.join(p.value for p in Platform)}")

    def instant(name: str) -> Any:
        text = query.get(name)
        if text is None:
            return None
        try:
            return parse_instant(text, None, field=name)
        except HeraldError as problem:
            raise bad(name, problem.message) from None

    filters: dict[str, Any] = {
        "state": status,
        "account": query.get("account"),
        "platform": platform,
        "external_id": query.get("external_id"),
        "scheduled_from": instant("scheduled_from"),
        "scheduled_to": instant("scheduled_to"),
    }
    return int(text), after, filters


async def list_posts(request: web.Request) -> web.Response:
    ctx: Context = request.app[CTX]
    limit, after, filters = list_query(request.query)
    rows = await asyncio.to_thread(ctx.page, workspace_of(request), after, limit, filters)
    cursor = base64.urlsafe_b64encode(str(rows[-1][1]).encode()).decode() if len(rows) == limit else None
    page = PostPage(items=[PostOut.model_validate(view) for view, _ in rows], next_cursor=cursor)
    return json_response(page.model_dump(mode="json"))


async def get_post(request: web.Request) -> web.Response:
    view = await load(request.app[CTX], request)
    return json_response(post_out(view), headers={"ETag": f'"{view.version}"'})


async def patch_post(request: web.Request) -> web.Response:
    ctx: Context = request.app[CTX]
    view = await load(ctx, request)
    match = request.headers.get("If-Match", "").strip().strip('"').removeprefix("W/").strip('"')
    if not match:
        raise ApiError(428, "if_match_required", "send If-Match with the post's version", "If-Match")
    if not match.isdigit():
        raise ApiError(412, "version_mismatch", f"If-Match {match!r} is not a version number", "If-Match")
    body = PatchPost.model_validate(await json_of(request))
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
    body = Settle.model_validate(await json_of(request))
    if body.live and not body.remote_id:
        raise ApiError(422, "remote_id_missing", "a live post needs its remote_id on the platform", "remote_id")
    found = RemotePost(remote_id=body.remote_id, permalink=body.permalink) if body.live and body.remote_id else None
    actor = f"key {request[CALLER].key_id}"
    await asyncio.to_thread(lambda: ctx.herald.dispatch.settle(view.id, live=found, actor=actor, note=body.note))
    return json_response(post_out(await asyncio.to_thread(ctx.posts.get_post, view.id)))
