"""Tables for people: a post's state and its events."""

from __future__ import annotations

import textwrap
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table
from rich.text import Text

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
    "held": "magenta",
    "partial": "yellow",
}


def post_summary(post: PostView) -> Table:
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    rows: list[tuple[str, Any]] = [
        ("post", post.id),
        ("state", styled(post.state)),
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
            table.add_row(label, value if isinstance(value, Text) else Text(str(value)))
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
            Text(details[:160]),
        )
    return table


def show_post(post: PostView, records: list[EventRecord]) -> None:
    out.print(post_summary(post))
    out.print(events_table(records))


def styled(state: str) -> Text:
    return Text(state, style=STATE_STYLE.get(state, ""))


def print_timeline(rows: list[dict[str, Any]], zone_name: str = "UTC") -> None:
    """A post's support timeline: what it is now, then each event on a line of its own with
    its sentence wrapped beneath, so it reads in 80 columns. Stored text (external ids,
    platform messages) is shown as it is, never read as markup."""
    tz = ZoneInfo(zone_name)
    head = summary(rows)
    out.print(Text.assemble("post ", head["post_id"], "  ", styled(head["state"])))
    if head["external_id"]:
        out.print(Text(f"external id {head['external_id']}"))
    if head["remote_id"]:
        out.print(
            Text(
                f"on the platform as {head['remote_id']} {head['permalink'] or ''}, "
                f"{head['late_by_seconds']}s after its due time"
            )
        )
    if head["failure_reason"]:
        out.print(Text.assemble(("failed: " + str(head["failure_reason"]), "red"), ". ", str(head["remediation"])))
    out.print(Text(f"times in UTC and {zone_name}" if zone_name != "UTC" else "times in UTC", style="dim"))
    for r in rows:
        at = datetime.fromisoformat(r["at"])
        when = at.strftime("%m-%d %H:%M:%S.%f")[:-3] + " UTC"
        if zone_name != "UTC":
            when += at.astimezone(tz).strftime("  %H:%M:%S %Z")
        line = Text.assemble(when, "  ", (r["event"], "bold"), " → ", styled(r["state"]))
        if r["attempt"]:
            line.append(f"  try {r['attempt']}")
        out.print(line)
        wrapped = textwrap.fill(
            r["explanation"] or "", width=max(40, out.width), initial_indent="    ", subsequent_indent="    "
        )
        out.print(Text(wrapped))
