"""`herald verify`: every recorded decision made again from the stored log."""

from __future__ import annotations

import argparse
from typing import Any


def register(commands: Any) -> None:
    check = commands.add_parser(
        "verify",
        help="make every recorded decision again from the stored events, and compare",
        description="Folds each post's events in stored order; at each decision (an attempt's outcome, "
        "a reconcile, a hold's end, a passed deadline, a refusal at claim, an expired lease) it makes the "
        "decision again with the rules of the version that made it, from the post as it stood and the "
        "inputs the event recorded, and compares. Exit 1 on any mismatch.",
    )
    check.add_argument("--since", help="check decisions made at or after this instant (all events are folded)")
    check.add_argument("--workspace", help="only this workspace's posts")
    check.add_argument("--json", action="store_true", help="print for machines")
    check.set_defaults(run=_verify)


def _verify(args: argparse.Namespace) -> int:
    import time

    import orjson
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from infrastructure.bootstrap import bootstrap
    from infrastructure.cli.render import err, out
    from infrastructure.verify import verify
    from infrastructure.zones import parse_instant

    since = parse_instant(args.since, field="since") if args.since else None
    herald = bootstrap()
    columns = (
        TextColumn("[bold]verify"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:,.0f} events/s"),
        TimeRemainingColumn(),
    )
    began = time.perf_counter()
    with Progress(*columns, console=err, disable=args.json) as progress:
        task = progress.add_task("verify", total=None, rate=0.0)

        def advance(done: int, total: int) -> None:
            elapsed = progress.tasks[task].elapsed or 1e-9
            progress.update(task, completed=done, total=max(total, done), rate=done / elapsed)

        verifier = verify(herald, since=since, workspace=args.workspace, progress=advance)
    seconds = time.perf_counter() - began
    herald.close()
    found = verifier.mismatches
    if args.json:
        body = {
            "events": verifier.events,
            "decisions_checked": verifier.checked,
            "decisions_without_basis": verifier.unrecorded,
            "mismatches": [m.model_dump(mode="json") for m in found],
            "seconds": round(seconds, 3),
        }
        print(orjson.dumps(body, option=orjson.OPT_INDENT_2).decode())
        return 1 if found else 0
    for m in found:
        at = m.at.isoformat() if m.at else "?"
        out.print(f"[red]mismatch[/red] post {m.post_id} event {m.position} {m.event} at {at}")
        out.print(f"  rule {m.rule} (version {m.version}), workspace {m.workspace or '?'}")
        for key in m.expected.keys() | m.recorded.keys():
            out.print(f"  {key}: expected {_short(m.expected.get(key))}", highlight=False)
            out.print(f"  {' ' * len(key)}  recorded {_short(m.recorded.get(key))}", highlight=False)
    rate = verifier.events / seconds if seconds else 0.0
    out.print(
        f"{verifier.checked} decisions checked over {verifier.events} events "
        f"({rate:,.0f} events/s): {len(found)} mismatches"
    )
    if verifier.unrecorded:
        out.print(f"{verifier.unrecorded} decisions were stored before decisions kept their inputs; not checked")
    return 1 if found else 0


def _short(value: Any) -> str:
    import orjson

    text = orjson.dumps(value).decode()
    return text if len(text) <= 200 else text[:197] + "..."
