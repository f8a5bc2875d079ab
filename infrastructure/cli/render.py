"""Tables for people: a post's state and its events."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table

from projections.timeline import summary
from services.results import EventRecord, PostView

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

STATE_STYLE = {
    "delivered": "green",
    "failed": "red",
    "canceled": "dim",
    "ambiguous": "yellow",
    "dispatched": "cyan",
    "queued": "blue",
    "draft": "white",
}


def post_summary(post: PostView) -> Table:
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    style = STATE_STYLE.get(post.state, "")
    rows: list[tuple[str, Any]] = [
        ("post", post.id),
        ("state", f"[{style}]{post.state}[/{style}]"),
        ("account", f"{post.account} on {post.platform}"),
        ("external id", post.external_id),
        ("due", post.due_at and post.due_at.isoformat()),
        ("deadline", post.deadline and post.deadline.isoformat()),
        ("publish key", post.publish_key),
        ("content", f"v{post.content_version}: {post.content.text[:70]}"),
        ("attempts", post.attempt),
        ("remote", post.remote_id and f"{post.remote_id} {post.permalink or ''}"),
        ("failure", post.failure_reason and f"{post.failure_reason}: {post.remediation}"),
    ]
    for label, value in rows:
        if value is not None:
            table.add_row(label, str(value))
    return table


def events_table(records: list[EventRecord]) -> Table:
    table = Table(title="events", title_justify="left")
    for column in ("v", "at (UTC)", "event", "details"):
        table.add_column(column)
    for record in records:
        details = ", ".join(f"{key}={value}" for key, value in record.data.items() if value not in (None, [], {}))
        table.add_row(
            str(record.version),
            record.at.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3],
            record.name,
            details[:160],
        )
    return table


def show_post(post: PostView, records: list[EventRecord]) -> None:
    out.print(post_summary(post))
    out.print(events_table(records))


def print_timeline(rows: list[dict[str, Any]], zone_name: str = "UTC") -> None:
    """A post's support timeline: what it is now, then one sentence per event."""
    tz = ZoneInfo(zone_name)
    head = summary(rows)
    style = STATE_STYLE.get(head["state"], "")
    out.print(f"post {head['post_id']}  external id {head['external_id']}  [{style}]{head['state']}[/{style}]")
    if head["remote_id"]:
        out.print(
            f"on the platform as {head['remote_id']} {head['permalink'] or ''}, "
            f"{head['late_by_seconds']}s after its due time"
        )
    if head["failure_reason"]:
        out.print(f"[red]failed: {head['failure_reason']}[/red]. {head['remediation']}")
    table = Table(box=None, pad_edge=False)
    local = [zone_name] if zone_name != "UTC" else []
    for column in ("UTC", *local, "event", "state", "try", "worker", "status", "why"):
        table.add_column(column, overflow="fold")
    for r in rows:
        at = datetime.fromisoformat(r["at"])
        table.add_row(
            at.strftime("%m-%d %H:%M:%S.%f")[:-3],
            *[at.astimezone(tz).strftime("%m-%d %H:%M:%S %Z") for _ in local],
            r["event"],
            r["state"],
            str(r["attempt"] or ""),
            r["worker"] or "",
            " ".join(str(x) for x in (r["http_status"], r["error_code"]) if x),
            r["explanation"],
        )
    out.print(table)
