"""`herald`: the command line. Every refusal is one line with its code, never a traceback.

Command modules import only argparse and the light `domain.platform`/`domain.errors` at the
top; what a command runs is imported when it runs, so `herald --help` answers at once."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from domain.errors import HeraldError
from infrastructure.cli import (
    accounts,
    analysis,
    demo,
    dispatch,
    evergreen,
    imports,
    media,
    posts,
    projections,
    rules,
    serve,
    verify,
    views,
)


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
    media.register(commands)
    rules.register(commands)
    evergreen.register(commands)
    imports.register(commands)
    dispatch.register(commands)
    views.register(commands)
    projections.register(commands)
    verify.register(commands)
    analysis.register(commands)
    serve.register(commands)
    demo.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        from infrastructure.logs import configure

        configure(getattr(args, "log_level", "warning"))  # serve and dispatch say what each attempt did
        return int(args.run(args) or 0)
    except HeraldError as refusal:
        return refused(refusal.code, refusal.field, refusal.message)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as problem:  # a bug: one line for the user, the traceback on request
        if os.environ.get("HERALD_DEBUG"):
            raise
        print(
            f"herald: unexpected {type(problem).__name__}: {str(problem)[:300]} "
            "(a bug; run again with HERALD_DEBUG=1 for the traceback)",
            file=sys.stderr,
        )
        return 1


def refused(code: str, field: str | None, message: str) -> int:
    """A refusal: one line naming its code and the input at fault; exit 2."""
    from rich.text import Text

    from infrastructure.cli.render import err

    where = f" ({field})" if field else ""
    err.print(Text.assemble(("error", "red"), " ", (code, "bold"), f"{where}: {message}"))
    return 2


if __name__ == "__main__":
    sys.exit(main())
