"""The support console's pages: sign in with a `support` key, find a post, read its timeline
in any zone as it stood at any instant, and act on the posts that need attention.

Server-rendered (Jinja2, autoescaped), no JavaScript. Every page is confined to the signed-in
workspace exactly as the API is: another workspace's post is "not found". Every form carries
the session's CSRF token; every action is the same service command the API runs, and names
the key that did it in the post's events.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from aiohttp import web
from jinja2 import Environment

from domain.errors import HeraldError
from infrastructure.api.context import Context
from infrastructure.api.keys import CTX
from infrastructure.console.sessions import LIFETIME, Session, Sessions, forged
from infrastructure.zones import parse_instant, zone
from projections.timeline import summary

COOKIE = "herald_console"
LOGIN_COOKIE = "herald_console_login"  # the sign-in form's CSRF token (double submit)
SESSIONS = web.AppKey("console_sessions", Sessions)
TEMPLATES = web.AppKey("console_templates", Environment)
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self';"
    " frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}
ACTIONS = ("redrive", "cancel", "approve")
CANCELABLE = ("draft", "awaiting_approval", "queued", "held")


class Refused(Exception):
    """A page answered with a message, not the page asked for."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def render(request: web.Request, template: str, status: int = 200, **values: Any) -> web.Response:
    page = request.app[TEMPLATES].get_template(template).render(**values)
    return web.Response(text=page, status=status, content_type="text/html", headers=HEADERS)


def now_of(request: web.Request) -> datetime:
    """The instant by the process's injected clock (the same one the services use)."""
    ctx: Context = request.app[CTX]
    return ctx.herald.clock()


async def session_of(request: web.Request) -> Session:
    """The signed-in session, its key still valid and still a support key; else sign in."""
    ctx: Context = request.app[CTX]
    found = await asyncio.to_thread(request.app[SESSIONS].find, request.cookies.get(COOKIE), now_of(request))
    if found is None:
        raise web.HTTPSeeOther("/console", headers=HEADERS)
    workspace = await asyncio.to_thread(ctx.workspaces.get, uuid.UUID(found.workspace))
    key = workspace.keys.get(found.key_id)
    if key is None or key.revoked or "support" not in key.scopes:
        await asyncio.to_thread(request.app[SESSIONS].close, request.cookies.get(COOKIE))
        raise web.HTTPSeeOther("/console", headers=HEADERS)
    return found


async def login_page(request: web.Request) -> web.StreamResponse:
    found = await asyncio.to_thread(request.app[SESSIONS].find, request.cookies.get(COOKIE), now_of(request))
    if found is not None:
        raise web.HTTPSeeOther("/console/find", headers=HEADERS)
    return _login_form(request)


def _login_form(request: web.Request, status: int = 200, message: str = "") -> web.Response:
    token = uuid.uuid4().hex + uuid.uuid4().hex
    response = render(request, "login.html", status, csrf=token, message=message)
    response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="Strict", path="/console", max_age=3600)
    return response


async def login(request: web.Request) -> web.StreamResponse:
    ctx: Context = request.app[CTX]
    form = await request.post()
    sent, expected = str(form.get("csrf", "")), request.cookies.get(LOGIN_COOKIE, "")
    if forged(sent, expected):
        return _login_form(request, 403, "This form was stale or not ours; sign in again.")
    address = request.remote or "unknown"
    try:
        ctx.strangers.check(address)  # the API's limit on failed sign-ins from one address
    except HeraldError as limited:
        return _login_form(request, 429, limited.message)
    try:
        caller = await asyncio.to_thread(ctx.workspaces.authenticate, str(form.get("api_key", "")).strip())
    except HeraldError:
        ctx.strangers.failed(address)
        return _login_form(request, 401, "That key is not valid.")
    if "support" not in caller.scopes:
        return _login_form(
            request, 403, "That key lacks the support scope (herald keys create --workspace ID --scopes support)."
        )
    sessions = request.app[SESSIONS]
    approver = "approve" in caller.scopes
    token = await asyncio.to_thread(sessions.open, str(caller.workspace_id), caller.key_id, approver, now_of(request))
    response = web.HTTPSeeOther("/console/find", headers=HEADERS)
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="Strict",
        path="/console",
        max_age=int(LIFETIME.total_seconds()),
        secure=request.secure,
    )
    response.del_cookie(LOGIN_COOKIE, path="/console")
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    session = await session_of(request)
    form = await request.post()
    if session.forged(str(form.get("csrf", ""))):
        return render(request, "message.html", 403, session=session, message="That form was stale or forged.")
    await asyncio.to_thread(request.app[SESSIONS].close, request.cookies.get(COOKIE))
    response = web.HTTPSeeOther("/console", headers=HEADERS)
    response.del_cookie(COOKIE, path="/console")
    raise response


async def find(request: web.Request) -> web.StreamResponse:
    session = await session_of(request)
    ctx: Context = request.app[CTX]
    query = request.query.get("q", "").strip()[:200]
    found: list[dict[str, Any]] = []
    if query:
        found = await asyncio.to_thread(_search, ctx, session.workspace, query)
    return render(request, "find.html", session=session, query=query, found=found)


def _search(ctx: Context, workspace: str, query: str) -> list[dict[str, Any]]:
    """Posts of `workspace` by id, external id, account or a fragment of their text."""
    seen: dict[str, dict[str, Any]] = {}
    try:
        post = ctx.posts.get_post(uuid.UUID(query))
        if post.workspace == workspace:
            ctx.caught_up("post_list")
            for view, _ in ctx.herald.post_list.page(workspace, 0, 1, {"external_id": post.external_id}):
                seen[view["id"]] = view
            if not seen:
                seen[str(post.id)] = {"id": str(post.id), "state": post.state, "account": post.account}
    except (ValueError, HeraldError):
        pass
    for filters in ({"external_id": query}, {"account": query}, {"text": query}):
        for view, _ in ctx.page(workspace, 0, 50, filters):
            seen.setdefault(view["id"], view)
    return list(seen.values())[:100]


async def post_page(request: web.Request) -> web.StreamResponse:
    session = await session_of(request)
    ctx: Context = request.app[CTX]
    try:
        view = await _own_post(ctx, session, request.match_info["post_id"])
    except Refused as refused:
        return render(request, "message.html", refused.status, session=session, message=refused.message)
    zone_name = request.query.get("zone", "UTC").strip() or "UTC"
    problems: list[str] = []
    try:
        where = zone(zone_name)
    except HeraldError as bad:
        problems.append(bad.message)
        zone_name, where = "UTC", ZoneInfo("UTC")
    rows = await asyncio.get_running_loop().run_in_executor(
        ctx.reads, ctx.own_timeline, session.workspace, str(view.id)
    )
    as_of_text = request.query.get("as_of", "").strip()
    as_of = None
    if as_of_text:
        try:
            as_of = parse_instant(as_of_text, zone_name, field="as_of")
        except HeraldError as bad:
            problems.append(bad.message)
    if as_of is not None:
        rows = [row for row in rows if datetime.fromisoformat(row["at"]) <= as_of]
    shown = [{**row, "local": _local(row["at"], where)} for row in rows]
    state = summary(rows).get("state", "not yet drafted") if rows else "not yet drafted"
    redriven = any(row["event"] == "Redriven" for row in rows)
    return render(
        request,
        "post.html",
        session=session,
        post=view,
        rows=shown,
        state=state,
        facts=summary(rows),
        zone=zone_name,
        as_of=as_of_text,
        as_of_utc=as_of.isoformat() if as_of else "",
        problems=problems,
        redriven_as=_uuid_or_none(request.query.get("redriven_as", "")),
        can_redrive=view.state == "failed" and not redriven and as_of is None,
        can_cancel=view.state in CANCELABLE and as_of is None,
        can_approve=view.state == "awaiting_approval" and session.approver and as_of is None,
    )


def _uuid_or_none(text: str) -> str | None:
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return None


def _local(at: str, where: ZoneInfo) -> str:
    return datetime.fromisoformat(at).astimezone(where).strftime("%Y-%m-%d %H:%M:%S %Z")


async def raw_events(request: web.Request) -> web.StreamResponse:
    session = await session_of(request)
    ctx: Context = request.app[CTX]
    try:
        view = await _own_post(ctx, session, request.match_info["post_id"])
    except Refused as refused:
        return render(request, "message.html", refused.status, session=session, message=refused.message)
    history = await asyncio.to_thread(ctx.herald.events.history, view.id)
    events = [{"event": type(e).__name__, **e.model_dump(mode="json")} for e in history]
    body = orjson.dumps(events, option=orjson.OPT_INDENT_2).decode()
    return render(request, "events.html", session=session, post=view, body=body)


async def attention(request: web.Request) -> web.StreamResponse:
    session = await session_of(request)
    ctx: Context = request.app[CTX]
    waiting = await asyncio.to_thread(ctx.needing_attention, session.workspace)
    failed = await asyncio.to_thread(ctx.page, session.workspace, 0, 200, {"state": "failed"})
    now = now_of(request)
    items: list[dict[str, Any]] = [
        {"post_id": w.post_id, "state": w.state, "reason": w.reason, "account": w.account, "age": _age(w.since, now)}
        for w in waiting
    ]
    items += [
        {
            "post_id": view["id"],
            "state": "failed",
            "reason": view.get("failure_reason") or "",
            "account": view.get("account", ""),
            "age": _age(view.get("due_at"), now),  # since it was due
            "redriven": bool(view.get("redriven_as")),
        }
        for view, _ in failed
    ]
    items.sort(key=lambda item: (item["state"], item["reason"]))
    return render(request, "attention.html", session=session, items=items)


def _age(at: str | None, now: datetime) -> str:
    if not at:
        return ""
    seconds = max(0.0, (now - datetime.fromisoformat(at)).total_seconds())
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds:.0f} s"


async def act(request: web.Request) -> web.StreamResponse:
    session = await session_of(request)
    ctx: Context = request.app[CTX]
    action = request.match_info["action"]
    form = await request.post()
    if session.forged(str(form.get("csrf", ""))):
        return render(request, "message.html", 403, session=session, message="That form was stale or forged.")
    try:
        view = await _own_post(ctx, session, request.match_info["post_id"])
    except Refused as refused:
        return render(request, "message.html", refused.status, session=session, message=refused.message)
    actor = f"key {session.key_id} (console)"
    target = view.id
    try:
        if action == "redrive":
            target = await asyncio.to_thread(lambda: ctx.posts.redrive(view.id, actor=actor))
        elif action == "cancel":
            await asyncio.to_thread(ctx.posts.cancel, view.id, f"canceled by {actor}")
        elif action == "approve" and session.approver:
            comment = str(form.get("comment", ""))[:500]
            await asyncio.to_thread(lambda: ctx.posts.approve(view.id, actor=actor, comment=comment))
        else:
            return render(request, "message.html", 403, session=session, message=f"{action}: not allowed here")
    except HeraldError as refused:
        return render(request, "message.html", 409, session=session, message=f"{action} refused: {refused.message}")
    raise web.HTTPSeeOther(f"/console/posts/{view.id}" + (f"?redriven_as={target}" if target != view.id else ""))


async def _own_post(ctx: Context, session: Session, text: str) -> Any:
    """The post, if it is the session's workspace's; else exactly "not found"."""
    try:
        post_id = uuid.UUID(text)
    except ValueError:
        raise Refused(404, f"No post with id {text[:60]}.") from None
    try:
        view = await asyncio.to_thread(ctx.posts.get_post, post_id)
    except HeraldError:
        raise Refused(404, f"No post with id {post_id}.") from None
    if view.workspace != session.workspace:
        raise Refused(404, f"No post with id {post_id}.")
    return view
