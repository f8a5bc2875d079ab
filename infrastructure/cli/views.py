"""`herald timeline`, `herald attention` and `herald stats`: what support and analysts read."""

from __future__ import annotations

import argparse
from typing import Any

from domain.errors import HeraldError, PostNotFound
from infrastructure.cli.projections import _herald


def register(commands: Any) -> None:
    timeline = commands.add_parser(
        "timeline",
        help="a post's support timeline: one readable row per event",
        description="Shows the final state, remote id and permalink, lateness, and why it failed.",
    )
    timeline.add_argument("post_id", nargs="?", help="the post's id")
    timeline.add_argument("--external-id", help="look the post up by the caller's external_id instead")
    timeline.add_argument("--zone", default="UTC", help="also show instants in this IANA zone")
    timeline.add_argument("--as-of", help="the post as it stood at this instant (ISO 8601 with offset)")
    timeline.add_argument("--json", action="store_true", help="print for machines")
    timeline.set_defaults(run=_timeline)

    waiting = commands.add_parser(
        "attention",
        help="posts held, or waiting for support to settle them, with why",
        description="Held posts go out once their account is mended (or fail at their deadline); "
        "ambiguous ones listed here need a person: look on the platform, then herald post settle.",
    )
    waiting.add_argument("--workspace", help="only this workspace's")
    waiting.add_argument("--json", action="store_true", help="print for machines")
    waiting.set_defaults(run=_attention)

    stats = commands.add_parser("stats", help="per account, platform and UTC day: counts and lateness")
    stats.add_argument("--day", help="only this UTC day (YYYY-MM-DD)")
    stats.add_argument("--json", action="store_true", help="print for machines")
    stats.set_defaults(run=_stats)


def _timeline_rows(args: argparse.Namespace) -> list[dict[str, Any]]:
    from infrastructure.zones import parse_instant
    from projections.timeline import Timeline

    herald = _herald()
    herald.runner(Timeline()).catch_up()
    as_of = parse_instant(args.as_of, field="as_of").strftime("%Y-%m-%dT%H:%M:%S.%fZ") if args.as_of else None
    if args.external_id:
        ids = herald.timeline.post_ids_for_external_id(None, args.external_id)
        if not ids:
            raise PostNotFound(f"no post with external_id {args.external_id!r}", field="external_id")
        post_id = ids[-1]
    elif args.post_id:
        post_id = args.post_id
    else:
        raise PostNotFound("give a post id or --external-id", field="post_id")
    rows = herald.timeline.rows(post_id, as_of)
    if not rows:
        raise PostNotFound(f"no post with id {post_id}" + (f" as of {args.as_of}" if as_of else ""))
    return rows


def _timeline(args: argparse.Namespace) -> int:
    import orjson

    from infrastructure.cli.render import print_timeline
    from infrastructure.zones import zone
    from projections.timeline import summary

    zone(args.zone)  # refuse a bad zone before any work
    rows = _timeline_rows(args)
    if args.json:
        print(orjson.dumps({"summary": summary(rows), "events": rows}, option=orjson.OPT_INDENT_2).decode())
        return 0
    print_timeline(rows, args.zone)
    return 0


def _attention(args: argparse.Namespace) -> int:
    import orjson
    from rich.table import Table

    from infrastructure.cli.render import out
    from projections.due_index import DueIndex

    herald = _herald()
    herald.runner(DueIndex()).catch_up()
    waiting = herald.due_index.needing_attention(args.workspace, 10_000)
    herald.close()
    if args.json:
        print(orjson.dumps([w.__dict__ for w in waiting], option=orjson.OPT_INDENT_2).decode())
        return 0
    table = Table(title=f"{len(waiting)} posts held or waiting for support")
    for column in ("post", "account", "state", "why", "since (UTC)"):
        table.add_column(column, overflow="fold")
    for w in waiting:
        table.add_row(w.post_id, f"{w.account} ({w.platform})", w.state, w.reason, w.since[:19].replace("T", " "))
    out.print(table)
    return 0


class InvalidDay(HeraldError):
    code = "invalid_day"
    field = "day"


def _day(text: str) -> str:
    """A UTC day as YYYY-MM-DD, or a clear refusal."""
    import datetime as dt

    try:
        day: dt.date | None = dt.date.fromisoformat(text)
    except ValueError:
        day = None
    if day is None or len(text) != 10:  # fromisoformat also takes 20261123
        raise InvalidDay(f"--day {text!r} is not a day; give YYYY-MM-DD (2026-11-23)")
    return day.isoformat()


def _stats(args: argparse.Namespace) -> int:
    import orjson
    from rich.table import Table

    from infrastructure.cli.render import out
    from projections.stats import Stats

    day = _day(args.day) if args.day else None
    herald = _herald()
    herald.runner(Stats()).catch_up()
    report = herald.stats.report(day)
    if args.json:
        print(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode())
        return 0
    table = Table(title="posts per account, platform and UTC day")
    for column in (
        "day",
        "account",
        "platform",
        "sched.",
        "deliv.",
        "failed",
        "by reason",
        "canceled",
        "reconciled",
        "attempts",
        "late p50 s",
        "late p99 s",
    ):
        table.add_column(column)
    for e in report:
        table.add_row(
            e["day"],
            e["account"],
            e["platform"],
            *(str(e[c]) for c in ("scheduled", "delivered", "failed")),
            ", ".join(f"{k}={v}" for k, v in e["failed_by_reason"].items()),
            *(str(e[c]) for c in ("canceled", "reconciled", "attempts")),
            *("" if e[c] is None else f"{e[c]:.3f}" for c in ("lateness_p50", "lateness_p99")),
        )
    out.print(table)
    return 0
