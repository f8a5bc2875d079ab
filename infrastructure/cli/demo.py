"""`herald demo`: a short tour of a post's life on the embedded store."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from rich.table import Table

from domain.content import Content
from infrastructure.bootstrap import open_service
from infrastructure.cli.render import out, show_post


def register(commands: Any) -> None:
    demo = commands.add_parser(
        "demo",
        help="schedule, edit, reschedule and cancel a few posts, and show their events",
        description="Runs on HERALD_DATABASE_URL (scripts/demo points it at a fresh SQLite file).",
    )
    demo.set_defaults(run=run)


def run(_: Any) -> int:
    service = open_service()
    now = service.clock()
    out.rule("Herald demo: a post's life, told by its events")
    launch = service.schedule(
        account="acme-x",
        platform="x",
        content=Content(text="We launch tomorrow!"),
        scheduled_at=now + timedelta(hours=2),
        external_id="launch-1",
    )
    service.edit_content(launch, Content(text="We launch tomorrow at 9:00 CET! 🚀"))
    service.reschedule(launch, now + timedelta(hours=3))

    recap = service.schedule(
        account="acme-mastodon",
        platform="mastodon",
        content=Content(text="Weekly recap"),
        scheduled_at=now + timedelta(days=1),
    )
    service.cancel(recap, reason="recap merged into the newsletter")

    flash = service.publish_now(
        account="acme-bsky", platform="bluesky", content=Content(text="Doors are open!")
    )
    first = service.claim(flash, worker="demo-worker")
    second = service.claim(flash, worker="other-worker")

    table = Table(title="posts")
    for column in ("post", "platform", "state", "events"):
        table.add_column(column)
    for post_id in (launch, recap, flash):
        post = service.get_post(post_id)
        table.add_row(str(post.id)[:8], post.platform, post.state, str(post.version))
    out.print(table)
    out.print(f"first claim: {first.state}; a second worker's claim: refused ({second.code})")
    out.rule("the launch post, edited and rescheduled")
    show_post(service.get_post(launch), service.history(launch))
    return 0
