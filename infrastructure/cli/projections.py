"""`herald replay` and `herald projections run|status|retry-quarantined`."""

from __future__ import annotations

import argparse
import signal
import threading
from typing import TYPE_CHECKING, Any

from domain.errors import HeraldError

if TYPE_CHECKING:
    from infrastructure.bootstrap import Herald

PROJECTION_NAMES = (
    "due_index",
    "timeline",
    "stats",
    "post_list",
    "engagement",
)  # projections.catalog.PROJECTIONS, without importing it


class UnknownProjection(HeraldError):
    code = "unknown_projection"
    field = "projection"


def register(commands: Any) -> None:
    again = commands.add_parser(
        "replay",
        help="rebuild a projection from event 0 and swap it in",
        description="Rebuilds into fresh tables while the live projection keeps running, then swaps "
        "them in. With --until, keeps the result beside the live tables as <table>_asof.",
    )
    again.add_argument("projection", help=f"one of: {', '.join(PROJECTION_NAMES)}")
    again.add_argument("--until", help="only events that happened at or before this instant")
    again.add_argument(
        "--batch-size",
        type=int,
        default=5000,
        help="events per transaction where the fold runs in Python (SQLite; stats everywhere)",
    )
    again.add_argument(
        "--connections",
        type=int,
        choices=range(1, 17),
        default=2,
        metavar="1..16",
        help="PostgreSQL: connections folding ranges of posts at once (default 2)",
    )
    again.set_defaults(run=_replay)

    runner = commands.add_parser("projections", help="run the projections")
    actions = runner.add_subparsers(dest="action", metavar="ACTION", required=True)
    run = actions.add_parser(
        "run",
        help="keep every projection up to date (SIGTERM/Ctrl-C: finish the batch, exit)",
    )
    run.add_argument("--batch-size", type=int, default=1000, help="events per transaction")
    run.add_argument("--until-caught-up", action="store_true", help="exit once nothing is left to apply")
    run.add_argument("--poll", type=float, default=0.2, help="seconds between polls on SQLite")
    run.set_defaults(run=_run_projections)

    status = actions.add_parser(
        "status",
        help="each projection's position, how far behind the log it is, and the events it set aside",
    )
    status.add_argument("--json", action="store_true", help="print for machines")
    status.set_defaults(run=_status)

    retry = actions.add_parser(
        "retry-quarantined",
        help="fold again the events a projection could not fold and set aside",
        description="Each set-aside event is folded again (for the due index, the post list and the "
        "timeline, its post's whole history); those that fold leave the quarantine.",
    )
    retry.add_argument("--projection", help="only this projection's")
    retry.set_defaults(run=_retry_quarantined)


def _herald(pool_size: int | None = None) -> Herald:
    from infrastructure.bootstrap import bootstrap

    return bootstrap(pool_size=pool_size)


def _replay(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from infrastructure.cli.render import out
    from infrastructure.persistence.replay import replay
    from infrastructure.zones import parse_instant
    from projections.catalog import PROJECTIONS

    if args.projection not in PROJECTIONS:
        raise UnknownProjection(f"{args.projection!r} is not a projection; choose from {', '.join(PROJECTIONS)}")
    until = parse_instant(args.until, field="until") if args.until else None
    herald = _herald(pool_size=args.connections + 1)
    herald.runner(PROJECTIONS[args.projection]())  # its tables and tracking exist, even on a new store
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:,.0f} events/s"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=out) as progress:
        task = progress.add_task(f"replay {args.projection}", total=None, rate=0.0)

        def advance(done: int, total: int) -> None:
            elapsed = progress.tasks[task].elapsed or 1e-9
            progress.update(task, completed=done, total=total, rate=done / elapsed)

        read = replay(
            herald.projections,
            PROJECTIONS[args.projection](),
            until=until,
            batch_size=args.batch_size,
            progress=advance,
            connections=args.connections,
        )
    where = (
        "swapped in"
        if until is None
        else f"kept as {', '.join(t + '_asof' for t in PROJECTIONS[args.projection].tables)}"
    )
    out.print(f"replayed {read} events into {args.projection}; {where}")
    return 0


def _status(args: argparse.Namespace) -> int:
    import orjson
    from rich.table import Table

    from infrastructure.cli.render import out

    herald = _herald()
    last = herald.projections.last_position()
    held = herald.projections.quarantined()
    rows = [
        {
            "projection": name,
            "position": position,
            "behind": last - position,
            "quarantined": sum(1 for q in held if q.projection == name),
        }
        for name, position in herald.projections.positions().items()
    ]
    herald.close()
    if args.json:
        body = {"last_event": last, "projections": rows, "quarantined": [q.__dict__ for q in held]}
        print(orjson.dumps(body, option=orjson.OPT_INDENT_2).decode())
        return 0
    table = Table(title=f"projections (the log's last event: {last})")
    for column in ("projection", "position", "behind", "quarantined"):
        table.add_column(column, justify="left" if column == "projection" else "right")
    for row in rows:
        alarm = f"[red]{row['quarantined']}[/red]" if row["quarantined"] else "0"
        table.add_row(str(row["projection"]), str(row["position"]), str(row["behind"]), alarm)
    out.print(table)
    for q in held:
        out.print(f"[red]set aside[/red] {q.projection} event {q.position} ({q.event} of {q.aggregate_id}): {q.error}")
    return 1 if held else 0


def _retry_quarantined(args: argparse.Namespace) -> int:
    from infrastructure.cli.render import out
    from projections.catalog import PROJECTIONS

    herald = _herald()
    held = herald.projections.quarantined(args.projection)
    folded = 0
    for item in held:
        if item.projection not in PROJECTIONS:
            out.print(f"{item.projection} event {item.position}: not a projection this command can fold")
            continue
        problem = herald.projections.retry(PROJECTIONS[item.projection](), item)
        if problem is None:
            folded += 1
        else:
            out.print(f"[red]still failing[/red] {item.projection} event {item.position}: {problem}")
    herald.close()
    out.print(f"{folded} of {len(held)} set-aside events folded")
    return 0 if folded == len(held) else 1


def _run_projections(args: argparse.Namespace) -> int:
    from infrastructure.cli.render import out
    from projections.catalog import PROJECTIONS

    herald = _herald()
    runners = [herald.runner(cls(), batch_size=args.batch_size) for cls in PROJECTIONS.values()]
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    listener = herald.listener()
    applied = 0
    while not stopping.is_set():
        worked = 0
        for runner in runners:
            if stopping.is_set():
                break
            worked += runner.run_once()  # one batch each, so a stop request waits for one batch at most
        applied += worked
        if worked:
            continue
        if args.until_caught_up:
            break
        if listener is None:
            stopping.wait(args.poll)
        else:
            listener.wait(1.0)  # a NOTIFY, or a second at most
    herald.close()
    out.print(f"projections: {applied} events applied; stopped cleanly")
    return 0
