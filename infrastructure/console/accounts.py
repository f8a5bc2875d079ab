"""The console's accounts page and calendar: each account's connection, token, posting
window; a week of its scheduled posts and free queue slots, in its zone."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from domain.errors import HeraldError
from domain.platform import Platform
from domain.queue import SlotGrid, free_slots
from infrastructure.api.context import Context
from infrastructure.api.keys import CTX
from infrastructure.console.pages import now_of, render, session_of
from infrastructure.persistence.timeline import answered_since
from infrastructure.zones import zone
from projections.due_index import BOOKED  # states that hold a place in a day
from projections.facts import utc_text


async def accounts(request: web.Request) -> web.StreamResponse:
    session = await session_of(request)
    ctx: Context = request.app[CTX]
    rows = await asyncio.to_thread(_accounts, ctx, session.workspace, now_of(request))
    return render(request, "accounts.html", session=session, accounts=rows)


def _accounts(ctx: Context, workspace: str, now: datetime) -> list[dict[str, Any]]:
    rows = []
    booking = ctx.herald.booking
    limited = _rate_limited(ctx, workspace, now)
    for view in ctx.accounts.all(workspace):
        quota = booking.quota_of(workspace, view.name, Platform(view.platform))
        used = sum(1 for due in booking.book_of(workspace, view.name, now - quota.window).values() if due <= now)
        expires = view.token_expires_at
        rows.append(
            {
                "name": view.name,
                "platform": view.platform,
                "handle": view.handle,
                "state": view.state,
                "reason": view.disconnect_reason or "",
                "remediation": view.remediation or "",
                "expires": _expiry(expires, now),
                "window": f"{used} of {quota.limit} in {_span(quota.window)}",
                "limited": limited.get(view.name, ""),
            }
        )
    return rows


def _rate_limited(ctx: Context, workspace: str, now: datetime) -> dict[str, str]:
    """{account: "N in the last hour, the latest at T"} of the platforms' 429 answers, as the
    timeline recorded them (each pauses the account until the platform's reset)."""
    ctx.caught_up("timeline")
    ctx.caught_up("due_index")
    since = utc_text(now - timedelta(hours=1)) or ""
    limited = ctx.herald.timeline.answered(workspace, since, 429)
    accounts: dict[str, str] = {}
    if limited:  # each answered post's account, in one statement however many posts there were
        where, params = answered_since(workspace, since)  # the rows `answered` read
        with ctx.herald.read_store.reading() as cursor:
            cursor.execute(
                "SELECT post_id, account FROM due_index"
                f" WHERE post_id IN (SELECT t.post_id FROM timeline AS t WHERE {where})",
                params,
            )
            accounts = dict(cursor.fetchall())
    seen: dict[str, list[str]] = {}
    for row in limited:  # oldest first: the last instant kept is the latest
        if row["post_id"] in accounts:
            seen.setdefault(accounts[row["post_id"]], []).append(row["at"])
    return {account: f"{len(at)} in the last hour, the latest at {at[-1][11:19]} UTC" for account, at in seen.items()}


def _expiry(expires: datetime | None, now: datetime) -> str:
    if expires is None:
        return "does not expire"
    hours = (expires - now).total_seconds() / 3600
    if hours < 0:
        return f"expired {expires:%Y-%m-%d %H:%M} UTC"
    return f"in {hours:.0f} h ({expires:%Y-%m-%d %H:%M} UTC)"


def _span(window: timedelta) -> str:
    hours = window.total_seconds() / 3600
    return f"{hours:g} h" if hours >= 1 else f"{window.total_seconds() / 60:g} min"


async def calendar(request: web.Request) -> web.StreamResponse:
    session = await session_of(request)
    ctx: Context = request.app[CTX]
    names = [view.name for view in await asyncio.to_thread(ctx.accounts.all, session.workspace)]
    account = request.query.get("account", names[0] if names else "")
    problems: list[str] = []
    try:
        start = date.fromisoformat(request.query["week"]) if request.query.get("week") else None
    except ValueError:
        problems.append("week is a date, as 2026-12-07")
        start = None
    week = await asyncio.to_thread(_week, ctx, session.workspace, account, start, now_of(request)) if account else None
    return render(request, "calendar.html", session=session, names=names, account=account, week=week, problems=problems)


def _week(ctx: Context, workspace: str, account: str, start: date | None, now: datetime) -> dict[str, Any]:
    """The account's week (Monday first) in its queue's zone (UTC without a queue): scheduled
    posts and the queue's free slots, day by day."""
    try:
        queue = ctx.herald.queues.get(workspace, account)
    except HeraldError:
        queue = None
    where: ZoneInfo = zone(queue.zone) if queue is not None else ZoneInfo("UTC")
    today = now.astimezone(where).date()
    monday = (start or today) - timedelta(days=(start or today).weekday())
    begins = datetime.combine(monday, datetime.min.time(), where)
    ends = begins + timedelta(days=7)
    posts = ctx.page(workspace, 0, 500, {"account": account, "scheduled_from": begins, "scheduled_to": ends})
    days: list[dict[str, Any]] = [{"date": monday + timedelta(days=n), "items": []} for n in range(7)]
    booked = []
    for view, _ in posts:
        due = datetime.fromisoformat(view["due_at"])
        if view["state"] in BOOKED:
            booked.append(due)
        local = due.astimezone(where)
        text = (view.get("content") or {}).get("text", "")
        days[local.weekday()]["items"].append(
            {"at": local.strftime("%H:%M"), "kind": "post", "state": view["state"], "id": view["id"], "text": text[:60]}
        )
    if queue is not None:
        grid = SlotGrid(
            weekly=tuple(queue.slots), min_gap=timedelta(seconds=queue.min_gap_seconds), daily_cap=queue.daily_cap
        )
        after = max(begins, now)
        per_day = Counter(due.astimezone(where).date() for due in booked)
        for slot in free_slots(grid, where, booked, after=after, horizon=max(timedelta(0), ends - after)):
            local = slot.astimezone(where)
            if grid.daily_cap is not None and per_day[local.date()] >= grid.daily_cap:
                continue  # each slot is free alone; together they may not pass the day's cap
            per_day[local.date()] += 1
            days[local.weekday()]["items"].append({"at": local.strftime("%H:%M"), "kind": "free"})
    for day in days:
        day["items"].sort(key=lambda item: item["at"])
    return {
        "zone": where.key,
        "days": days,
        "previous": (monday - timedelta(days=7)).isoformat(),
        "next": (monday + timedelta(days=7)).isoformat(),
        "queue": queue is not None,
        "counted_from": max(begins, now).astimezone(where),  # free slots are those at or after it
    }
