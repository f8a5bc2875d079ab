"""`herald import FILE`: many posts from a CSV or JSON file, checked first, then committed."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from domain.errors import HeraldError


class FileUnreadable(HeraldError):
    code = "file_unreadable"
    field = "file"


def register(commands: Any) -> None:
    load = commands.add_parser(
        "import",
        help="schedule many posts from a CSV or JSON file (checked first; all or none)",
        description="Columns (CSV header, or JSON object keys): account, platform, text, scheduled_at, and "
        "optionally timezone, external_id, category, media (ids separated by ;) and key. Every row is checked "
        "before anything is written, and each bad row is named with its line and field. A row's post is made "
        "once: running the same import again (after a crash, say) skips what it made. Give a key column to keep "
        "that true when rows are edited or reordered.",
        epilog="example: herald import plan.csv --dry-run; then herald import plan.csv",
    )
    load.add_argument("file", help="a .csv or .json file")
    load.add_argument("--dry-run", action="store_true", help="check and show the plan; write nothing")
    load.add_argument("--partial", action="store_true", help="commit the good rows even if some are bad")
    load.add_argument("--workspace", default="default")
    load.set_defaults(run=_import)


def _records(path: Path) -> list[tuple[int, dict[str, Any]]]:
    from services.imports import read_records

    try:
        raw = path.read_bytes()
    except OSError as problem:
        raise FileUnreadable(f"{path}: {problem.strerror or problem}") from None
    return read_records(raw, "json" if path.suffix.lower() == ".json" else "csv", str(path))


def _import(args: argparse.Namespace) -> int:
    import os

    from infrastructure.bootstrap import bootstrap
    from infrastructure.cli.render import out

    herald = bootstrap()
    records = _records(Path(args.file))
    generic = bool(os.environ.get("HERALD_PLATFORM_URL"))
    accounts = {(a.name, a.platform) for a in herald.accounts.all(args.workspace)}  # a disconnected one holds
    checked = herald.imports.check(
        args.workspace, records, known=lambda account, platform: generic or (account, platform) in accounts
    )
    for bad in checked.bad[:50]:
        out.print(f"line {bad.line}: {bad.field}: {bad.reason}")
    if len(checked.bad) > 50:
        out.print(f"… and {len(checked.bad) - 50} more bad rows")
    plan = checked.assessment
    out.print(f"{len(records)} rows: {len(checked.rows)} good, {len(checked.bad)} bad")
    if plan is not None and plan.earliest is not None:
        out.print(f"from {plan.earliest:%Y-%m-%d %H:%M}Z to {plan.latest:%Y-%m-%d %H:%M}Z")
        out.print("per platform: " + ", ".join(f"{k} {v}" for k, v in sorted(plan.per_platform.items())))
        out.print(f"collisions: {len(plan.collisions)}; posting windows exceeded: {len(plan.quota_violations)}")
    if args.dry_run:
        out.print("dry run: nothing was written")
        return 0 if not checked.bad else 2

    def progress(done: int, total: int) -> None:
        print(f"imported {done:,} of {total:,} rows", file=sys.stderr, flush=True)

    done = herald.imports.commit(args.workspace, checked, partial=args.partial, progress=progress)
    out.print(f"{done.made} posts scheduled; {done.skipped} made by an earlier run of this import, skipped")
    return 0
