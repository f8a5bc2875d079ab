"""The console's analytics: `herald report`'s plots, drawn for the signed-in workspace only."""

from __future__ import annotations

import asyncio
import importlib.util
import tempfile
from pathlib import Path

from aiohttp import web

from infrastructure.api.context import Context
from infrastructure.api.keys import CTX
from infrastructure.console.pages import HEADERS, render, session_of
from infrastructure.zones import zone

PLOTS = ("cadence", "lateness", "outcomes", "failures", "best_windows")


async def analytics(request: web.Request) -> web.StreamResponse:
    session = await session_of(request)
    name = request.query.get("zone", "UTC").strip() or "UTC"
    drawable = importlib.util.find_spec("matplotlib") is not None
    return render(request, "analytics.html", session=session, plots=PLOTS, zone=name, drawable=drawable)


async def plot(request: web.Request) -> web.StreamResponse:
    session = await session_of(request)
    ctx: Context = request.app[CTX]
    name = request.match_info["name"]
    if name not in PLOTS:
        raise web.HTTPNotFound()
    try:
        where = zone(request.query.get("zone", "UTC"))
    except Exception:
        where = zone("UTC")
    body = await asyncio.to_thread(_draw, ctx, session.workspace, name, where)
    return web.Response(body=body, content_type="image/png", headers=HEADERS)


def _draw(ctx: Context, workspace: str, name: str, where: object) -> bytes:
    from infrastructure.report import report

    with tempfile.TemporaryDirectory() as folder:
        report(ctx.herald, Path(folder), zone=where, workspace=workspace, only=name)  # type: ignore[arg-type]
        return (Path(folder) / f"{name}.png").read_bytes()
