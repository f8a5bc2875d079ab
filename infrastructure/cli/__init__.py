"""`herald`: the command line. Every refusal is one line with its code, never a traceback.

Command modules import only argparse and the light `domain.platform`/`domain.errors` at the
top; what a command runs is imported when it runs, so `herald --help` answers at once."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from domain.errors import HeraldError
from infrastructure.cli import accounts, demo, dispatch, posts, projections, serve


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="herald",
        description=(
            "Herald publishes each social post exactly once, at the intended time, "
            "with a traceable outcome. The store is chosen by HERALD_DATABASE_URL "
            "(default sqlite:///./herald.db)."
        ),
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    posts.register(commands)
    accounts.register(commands)
    dispatch.register(commands)
    projections.register(commands)
    serve.register(commands)
    demo.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except HeraldError as refusal:
        from infrastructure.cli.render import err

        field = f" ({refusal.field})" if refusal.field else ""
        err.print(f"[red]error[/red] [bold]{refusal.code}[/bold]{field}: {refusal.message}")
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
