"""The support console, served by `herald serve` at /console (see `pages.py`)."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, select_autoescape

from infrastructure.api.context import Context
from infrastructure.console import accounts, analytics, pages
from infrastructure.console.sessions import Sessions

HERE = Path(__file__).parent


def add_console(app: web.Application, ctx: Context) -> None:
    app[pages.TEMPLATES] = Environment(
        loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]), auto_reload=False
    )
    app[pages.SESSIONS] = Sessions(ctx.herald.read_store)
    app.router.add_get("/console", pages.login_page)
    app.router.add_post("/console/login", pages.login)
    app.router.add_post("/console/logout", pages.logout)
    app.router.add_get("/console/find", pages.find)
    app.router.add_get("/console/attention", pages.attention)
    app.router.add_get("/console/posts/{post_id}", pages.post_page)
    app.router.add_get("/console/posts/{post_id}/events", pages.raw_events)
    app.router.add_post("/console/posts/{post_id}/{action:redrive|cancel|approve}", pages.act)
    app.router.add_get("/console/accounts", accounts.accounts)
    app.router.add_get("/console/calendar", accounts.calendar)
    app.router.add_get("/console/analytics", analytics.analytics)
    app.router.add_get("/console/analytics/{name}.png", analytics.plot)
    app.router.add_static("/console/static", HERE / "static", show_index=False)
