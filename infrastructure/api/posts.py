"""/v1/workspaces/{workspace_id}/posts: create, list, read, revise, cancel, timeline."""

from __future__ import annotations

import asyncio
import base64
import functools
import logging
import re
from typing import Any
from uuid import UUID, uuid4

from aiohttp import web

from domain.errors import HeraldError, PostNotFound
from domain.outcomes import RemotePost
from domain.platform import Platform
from domain.post import PostState
from domain.text import check_text
from infrastructure.api.context import Context
from infrastructure.api.errors import ApiError, json_response
from infrastructure.api.guards import json_of, workspace_of
from infrastructure.api.keys import CALLER, CTX, KEY_CLAIM
from infrastructure.api.models import (
    AttentionOut,
    CancelPost,
    CreatePost,
    Decision,
    PatchPost,
    PostOut,
    PostPage,
    Redrive,
    RedriveMany,
    RedriveManyOut,
    ScheduleDraft,
    Settle,
    TimelineOut,
    WaitingOut,
)
from infrastructure.persistence.idempotency import PostAnswer
from infrastructure.zones import parse_instant
from projections.timeline import summary
from services.joined_writes import joining
from services.results import PostView

PAGE_MAX = 100
log = logging.getLogger("herald.api")


def post_out(view: PostView) -> dict[str, Any]:
    return PostOut.model_validate(view.model_dump()).model_dump(mode="json")


def post_answer(view: PostView, status: int = 200, *, did: str | None = None) -> web.Response:
    """A post, with its version as ETag (what If-Match takes back); `did` logs what a write did."""
    if did is not None:
        fields = {"post_id": str(view.id), "workspace": view.workspace, "account": view.account}
        log.info(did, extra={**fields, "attempt": view.attempt, "state": view.state})
    return json_response(post_out(view), status, headers={"ETag": f'"{view.version}"'})


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


def joins(body: Any) -> bool:
    """A creation saves its post with its idempotency key and rate count, in one transaction;
    but a queued post is saved with its queue, and is recorded apart."""
    return isinstance(body, dict) and body.get("mode") != "queue"


async def create(request: web.Request) -> web.Response:
    ctx: Context = request.app[CTX]
    body = CreatePost.model_validate(await json_of(request))
    workspace = workspace_of(request)
    post_id = uuid4()  # known before the save, so the idempotency key's record can name it
    common: dict[str, Any] = {
        "account": body.account,
        "platform": body.platform,
        "content": body.content.to_domain(),
        "external_id": body.external_id,
        "workspace": workspace,
        "post_id": post_id,
    }

    claim = request.get(KEY_CLAIM)
    joined = claim.joined(post_id) if claim is not None else []
    if joined:
        joined.append(ctx.limiter.joined(workspace))

    def created() -> PostView:
        """One trip to a worker thread for the whole write; the account is read once; the key
        and the rate count, if they join it, are written in the save's own transaction."""
        with ctx.accounts.read_once(), joining(joined):
            if not ctx.generic_platform:
                ctx.accounts.require(workspace, body.account, body.platform)
            if joined:
                ctx.limiter.check(workspace)  # a window this process saw spent: refused at once
            else:
                ctx.limiter.take(workspace)
            if body.mode == "draft":
                ctx.posts.draft(**common)
            elif body.mode == "queue":
                return ctx.posts.saved_view(
                    ctx.herald.queues.add(
                        workspace,
                        body.account,
                        body.platform,
                        common["content"],
                        category=body.category,
                        external_id=body.external_id,
                    )
                )
            elif body.mode == "now":
                ctx.posts.publish_now(**common, when_full=body.when_full)
            else:
                if body.scheduled_at is None:
                    raise ApiError(422, "scheduled_at_missing", "a scheduled post needs scheduled_at", "scheduled_at")
                due = instant_of(body.scheduled_at, body.timezone)
                ctx.posts.schedule(**common, scheduled_at=due, when_full=body.when_full, category=body.category)
            return ctx.posts.saved_view(post_id)

    return post_answer(await asyncio.to_thread(created), 201, did="post created")


def recalled(ctx: Context, answer: PostAnswer) -> str:
    """A creation's answer, replayed from its idempotency record: the post as its save left it."""
    return post_answer(ctx.posts.view_at(answer.post_id, answer.version), 201).text or ""


FILTERS = ("status", "account", "platform", "external_id", "scheduled_from", "scheduled_to", "reason")
STATES = tuple(state.value for state in PostState)
CURSOR_MAX = 2**63 - 1  # positions are 64-bit integers in both stores
CURSOR_SHAPE = r"[A-Za-z0-9_-]{1,40}={0,2}"  # what a next_cursor looks like (urlsafe base64)


def list_query(query: Any) -> tuple[int, int, dict[str, Any]]:
    """(limit, position after, filters) from a list's query string. A parameter that is
    unknown or not of its documented shape (a whole number, one of a list, clean text) is a
    400; a well-formed value refused for what it means (an instant out of range, a cursor
    this API never gave) is a 422, as in bodies. Each names its parameter."""

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
    if "cursor" in query:
        try:
            decoded = base64.urlsafe_b64decode(query["cursor"].encode()).decode()
            after = int(decoded) if decoded.isascii() and decoded.isdigit() else -1
        except (ValueError, UnicodeError):
            after = -1
        if not 0 <= after <= CURSOR_MAX:
            shaped = re.fullmatch(CURSOR_SHAPE, query["cursor"]) is not None
            raise ApiError(
                422 if shaped else 400, "invalid_cursor", "cursor must be a next_cursor this API gave", "cursor"
            )
    status = query.get("status")
    if status is not None and status not in STATES:
        raise bad("status", f"status must be one of {', '.join(STATES)}, not {status[:40]!r}")
    for name in ("account", "external_id"):
        if len(query.get(name, "")) > 200:
            raise bad(name, f"{name} has at most 200 characters")
    reason = query.get("reason")
    if reason is not None and re.fullmatch(r"[a-z_]{1,100}", reason) is None:
        raise bad("reason", "reason is a failure's code, as failure_reason shows it (retries_exhausted…)")
    platform = query.get("platform")
    if platform is not None and platform not in {p.value for p in Platform}:
        raise bad("platform", f"platform must be one of {', '.join(p.value for p in Platform)}")

    def instant(name: str) -> Any:
        text = query.get(name)
        if text is None:
            return None
        return parse_instant(text, None, field=name)  # refused as in bodies: 422 invalid_instant

    filters: dict[str, Any] = {
        "state": status,
        "account": query.get("account"),
        "platform": platform,
        "external_id": query.get("external_id"),
        "scheduled_from": instant("scheduled_from"),
        "scheduled_to": instant("scheduled_to"),
        "reason": reason,
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
    return post_answer(view)


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
    return post_answer(fresh, did="post changed")


async def schedule_draft(request: web.Request) -> web.Response:
    """Queue a draft for a time, checked as a new scheduled post is (content, posting window)."""
    ctx: Context = request.app[CTX]
    view = await load(ctx, request)
    body = ScheduleDraft.model_validate(await json_of(request))
    due = instant_of(body.scheduled_at, body.timezone)
    await asyncio.to_thread(lambda: ctx.posts.schedule_draft(view.id, due, when_full=body.when_full))
    return post_answer(await asyncio.to_thread(ctx.posts.get_post, view.id), did="draft scheduled")


async def redrive(request: web.Request) -> web.Response:
    """Send a failed post again, as a new post (201) linked both ways; 409 unless it failed."""
    ctx: Context = request.app[CTX]
    view = await load(ctx, request)
    body = Redrive.model_validate(await json_of(request, empty={}))
    due = instant_of(body.scheduled_at, body.timezone)
    actor = f"key {request[CALLER].key_id}"
    new_id = await asyncio.to_thread(lambda: ctx.posts.redrive(view.id, actor=actor, scheduled_at=due))
    return post_answer(await asyncio.to_thread(ctx.posts.get_post, new_id), 201, did="post redriven")


async def approve(request: web.Request) -> web.Response:
    """An approver (a key with the `approve` scope) lets a post that waits go: queued."""
    return await _decide(request, approve=True)


async def reject(request: web.Request) -> web.Response:
    """An approver sends a post that waits back to draft, with a comment."""
    return await _decide(request, approve=False)


async def _decide(request: web.Request, *, approve: bool) -> web.Response:
    ctx: Context = request.app[CTX]
    view = await load(ctx, request)
    body = Decision.model_validate(await json_of(request, empty={}))
    actor = f"key {request[CALLER].key_id}"
    decide = ctx.posts.approve if approve else ctx.posts.reject
    await asyncio.to_thread(lambda: decide(view.id, actor=actor, comment=body.comment))
    return post_answer(await asyncio.to_thread(ctx.posts.get_post, view.id), did="approval decided")


async def cancel_post(request: web.Request) -> web.Response:
    """Cancel a draft, queued or held post. The post is kept, canceled, with its history: a
    cancel is not a deletion (a GET still answers it)."""
    ctx: Context = request.app[CTX]
    view = await load(ctx, request)
    body = CancelPost.model_validate(await json_of(request, empty={}))
    canceled = await asyncio.to_thread(ctx.posts.cancel, view.id, body.reason)
    return post_answer(canceled, did="post canceled")


async def timeline(request: web.Request) -> web.Response:
    ctx: Context = request.app[CTX]
    read = functools.partial(ctx.own_timeline, workspace_of(request), str(post_id_of(request)))
    rows = await asyncio.get_running_loop().run_in_executor(ctx.reads, read)
    out = TimelineOut(summary=summary(rows), events=rows)
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
    return post_answer(await asyncio.to_thread(ctx.posts.get_post, view.id), did="post settled")


async def redrive_many(request: web.Request) -> web.Response:
    """Send again the failed posts with one failure reason, up to `limit`, each on its own."""
    ctx: Context = request.app[CTX]
    body = RedriveMany.model_validate(await json_of(request))
    workspace, actor = workspace_of(request), f"key {request[CALLER].key_id}"
    since = instant_of(body.since, body.timezone)
    due = instant_of(body.scheduled_at, body.timezone)

    def run() -> dict[str, Any]:
        found = ctx.herald.failed_posts(workspace, body.reason, since)
        redriven: list[dict[str, Any]] = []
        refused: list[dict[str, Any]] = []
        for post_id in found:
            if len(redriven) + len(refused) == body.limit:
                return {"redriven": redriven, "refused": refused, "more": True}
            try:
                new_id = ctx.posts.redrive(post_id, actor=actor, scheduled_at=due)
            except HeraldError as refusal:  # changed meanwhile: say so, go on with the rest
                refused.append({"post_id": post_id, "code": refusal.code, "message": refusal.message})
                continue
            redriven.append({"post_id": post_id, "new_post_id": new_id})
        return {"redriven": redriven, "refused": refused, "more": False}

    answer = await asyncio.to_thread(run)
    return json_response(RedriveManyOut.model_validate(answer).model_dump(mode="json"))
