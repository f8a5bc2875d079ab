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
    import csv
    import io

    import orjson

    try:
        raw = path.read_bytes()
    except OSError as problem:
        raise FileUnreadable(f"{path}: {problem.strerror or problem}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FileUnreadable(f"{path} is not UTF-8 text") from None
    if path.suffix.lower() == ".json":
        try:
            items = orjson.loads(text)
        except orjson.JSONDecodeError as problem:
            raise FileUnreadable(f"{path} is not JSON: {problem}") from None
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise FileUnreadable(f"{path} must hold a JSON list of objects, one per post")
        return [(n, item) for n, item in enumerate(items, start=1)]
    reader = csv.DictReader(io.StringIO(text, newline=""))
    rows = []
    for record in reader:
        if None in record:  # more cells than the header names
            raise FileUnreadable(f"{path} line {reader.line_num}: more cells than the header has columns")
        rows.append((reader.line_num, dict(record)))
    return rows


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
