"""`herald export` and `herald report`: the analysts' tools."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from domain.errors import HeraldError

EXPORT_NAMES = ("timeline", "stats", "failures", "lateness", "due_index", "posts")  # infrastructure.export.EXPORTS


class AnalysisToolsMissing(HeraldError):
    code = "analysis_tools_missing"
    field = "install"


def register(commands: Any) -> None:
    export = commands.add_parser(
        "export",
        help="write a projection's rows to a Parquet or CSV file",
        description="Streams the rows page by page, so memory stays flat on any size. With --as-of, "
        "the projection is first replayed up to that instant (herald replay --until) and that is "
        "written. CSV cells that a spreadsheet would run as formulas are quoted.",
    )
    export.add_argument("what", choices=EXPORT_NAMES, help="which rows: " + ", ".join(EXPORT_NAMES))
    export.add_argument("--as-of", help="the rows as they stood at this instant (ISO 8601, with an offset)")
    export.add_argument("--format", choices=("parquet", "csv"), default="parquet", help="default parquet")
    export.add_argument("--out", type=Path, help="the file to write (default WHAT.FORMAT here)")
    export.add_argument("--workspace", help="only this workspace's rows (timeline, due_index, posts)")
    export.set_defaults(run=_export)

    plots = commands.add_parser(
        "report",
        help="write the analysts' plots as PNG files",
        description="cadence.png (posts delivered by weekday and hour, in --zone), lateness.png (due "
        "time to delivery, per platform), outcomes.png (per day), failures.png (reasons per day) and "
        "best_windows.png (mean interactions of the last 100 posts by weekday and hour; --account for one).",
    )
    plots.add_argument("--out", type=Path, required=True, help="the folder to write the plots into")
    plots.add_argument("--zone", default="UTC", help="IANA zone for the weekday and hour (default UTC)")
    plots.add_argument("--since", help="only from this instant on (ISO 8601, with an offset)")
    plots.add_argument("--workspace", help="only this workspace's posts (counted from the timeline)")
    plots.add_argument("--account", help="the best windows of this account only")
    plots.set_defaults(run=_report)


def _export(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    if args.format == "parquet":
        _need("pyarrow")
    from infrastructure.bootstrap import bootstrap
    from infrastructure.cli.render import err, out
    from infrastructure.export import export
    from infrastructure.zones import parse_instant

    as_of = parse_instant(args.as_of, field="as_of") if args.as_of else None
    target = args.out or Path(f"{args.what}.{args.format}")
    herald = bootstrap()
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    try:
        with Progress(*columns, console=err) as progress:
            task = progress.add_task(f"export {args.what}", total=None)
            written = export(
                herald,
                args.what,
                target,
                kind=args.format,
                as_of=as_of,
                workspace=args.workspace,
                progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
    finally:
        herald.close()
    when = f" as of {as_of.isoformat()}" if as_of else ""
    out.print(f"wrote {written} rows of {args.what}{when} to {target}")
    return 0


def _report(args: argparse.Namespace) -> int:
    _need("matplotlib")
    from infrastructure.bootstrap import bootstrap
    from infrastructure.cli.render import out
    from infrastructure.report import report
    from infrastructure.zones import parse_instant, zone

    where = zone(args.zone)
    since = parse_instant(args.since, field="since") if args.since else None
    herald = bootstrap()
    try:
        written = report(herald, args.out, zone=where, since=since, workspace=args.workspace, account=args.account)
    finally:
        herald.close()
    for path in written:
        out.print(f"wrote {path}")
    return 0


def _need(module: str) -> None:
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise AnalysisToolsMissing(
            f"{module} is not installed; install the analysts' extra: pip install 'herald[analysis]'"
        )
