"""`herald rules add|list|show|pause|resume|delete|materialise`: recurring posts."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from domain.errors import HeraldError
from domain.platform import Platform

if TYPE_CHECKING:
    from services.recurring import RuleView


class InvalidTarget(HeraldError):
    code = "invalid_target"
    field = "target"


class InvalidDate(HeraldError):
    code = "invalid_date"
    field = "starts"


class InvalidLocalTime(HeraldError):
    code = "invalid_local_time"
    field = "at"


def register(commands: Any) -> None:
    rules = commands.add_parser("rules", help="recurring posts: every Friday at 9:00 Paris time until March")
    actions = rules.add_subparsers(dest="action", metavar="ACTION", required=True)

    add = actions.add_parser(
        "add",
        help="a rule that makes a post per target for each occurrence",
        description="Each occurrence is materialised as ordinary posts --lead-hours before it falls due "
        "(herald rules materialise, or herald serve). The local time stays put across daylight-saving "
        "changes; a time the clock skips moves to the first instant after the gap, a repeated one takes "
        "the first of the two, and the occurrence's event says so.",
        epilog="example: herald rules add --name weekly --zone Europe/Paris --at 09:00 --starts 2026-12-04 "
        '--rrule "FREQ=WEEKLY;BYDAY=FR;UNTIL=20270331" --target acme-x:x --text "Friday notes"',
    )
    add.add_argument("--name", required=True)
    add.add_argument("--zone", required=True, help="IANA zone name (Europe/Paris)")
    add.add_argument("--at", required=True, help="local time of day, HH:MM")
    add.add_argument("--starts", required=True, help="first local date, YYYY-MM-DD")
    add.add_argument("--rrule", required=True, help="RFC 5545 RRULE with COUNT or UNTIL (FREQ=DAILY;COUNT=10)")
    add.add_argument(
        "--target", action="append", required=True, metavar="ACCOUNT:PLATFORM", help="where each occurrence goes"
    )
    add.add_argument("--text", required=True, help="the posts' text")
    add.add_argument("--media", action="append", default=[], metavar="ID", help="a media id (repeat)")
    add.add_argument("--lead-hours", type=float, default=24.0, help="materialise this long before (default 24)")
    _common(add)
    add.set_defaults(run=_add)

    edit = actions.add_parser(
        "edit",
        help="a new version of a rule (only the options given change)",
        description="Occurrences already made into posts keep them, unless --apply-to future_materialised: "
        "then their posts not yet sent follow the new version (edited, moved, or canceled where the rule "
        "no longer has their target or date).",
        epilog="example: herald rules edit 6f1c… --at 10:30 --apply-to future_materialised",
    )
    edit.add_argument("rule_id")
    edit.add_argument("--zone", help="IANA zone name")
    edit.add_argument("--at", help="local time of day, HH:MM")
    edit.add_argument("--starts", help="first local date, YYYY-MM-DD")
    edit.add_argument("--rrule", help="RFC 5545 RRULE with COUNT or UNTIL")
    edit.add_argument("--target", action="append", metavar="ACCOUNT:PLATFORM", help="replaces every target")
    edit.add_argument("--text", help="the posts' new text")
    edit.add_argument("--lead-hours", type=float)
    edit.add_argument(
        "--apply-to", choices=("unmaterialised", "future_materialised"), default="unmaterialised", help="see above"
    )
    _common(edit)
    edit.set_defaults(run=_edit)

    listing = actions.add_parser("list", help="the workspace's rules")
    _common(listing)
    listing.set_defaults(run=_list)

    for name, text in (
        ("show", "one rule"),
        ("pause", "stop materialising (posts already made stay)"),
        ("resume", "materialise again"),
        ("delete", "delete the rule (posts already made stay)"),
    ):
        action = actions.add_parser(name, help=text)
        action.add_argument("rule_id")
        _common(action)
        action.set_defaults(run=_change, change=name)

    run = actions.add_parser("materialise", help="make the posts of every occurrence now within its lead time")
    run.add_argument("--json", action="store_true", help="print for machines")
    run.set_defaults(run=_materialise)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workspace", default="default")
    parser.add_argument("--json", action="store_true", help="print for machines")


def _add(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from domain.content import Content, MediaRef
    from domain.recurrence import Recurrence
    from domain.rule import Target
    from infrastructure.bootstrap import bootstrap

    recurrence = Recurrence(rrule=args.rrule, starts=_date(args.starts), at=_time(args.at))
    content = Content(text=args.text, media=tuple(MediaRef(ref=ref) for ref in args.media))
    targets = [Target(account=a, platform=Platform(p)) for a, p in map(_target, args.target)]
    view = bootstrap().recurring.create(
        args.workspace,
        name=args.name,
        zone=args.zone,
        recurrence=recurrence,
        content=content,
        targets=targets,
        lead=timedelta(hours=args.lead_hours),
    )
    return _print([view], args.json)


def _edit(args: argparse.Namespace) -> int:
    from datetime import timedelta
    from uuid import UUID

    from domain.recurrence import Recurrence
    from domain.rule import RuleNotFound, Target
    from infrastructure.bootstrap import bootstrap
    from infrastructure.cli.render import out

    try:
        rule_id = UUID(args.rule_id)
    except ValueError:
        raise RuleNotFound(f"{args.rule_id!r} is not a rule id (a UUID)") from None
    service = bootstrap().recurring
    current = service.get(args.workspace, rule_id)
    recurrence = None
    if args.rrule or args.starts or args.at:
        recurrence = Recurrence(
            rrule=args.rrule or current.rrule,
            starts=_date(args.starts) if args.starts else current.starts,
            at=_time(args.at) if args.at else current.at,
        )
    content = current.content.model_copy(update={"text": args.text}) if args.text is not None else None
    view, applied = service.edit(
        args.workspace,
        rule_id,
        zone=args.zone,
        recurrence=recurrence,
        content=content,
        targets=[Target(account=a, platform=Platform(p)) for a, p in map(_target, args.target)]
        if args.target
        else None,
        lead=timedelta(hours=args.lead_hours) if args.lead_hours is not None else None,
        apply_to=args.apply_to,
    )
    code = _print([view], args.json)
    if applied is not None and not args.json:
        out.print(
            f"posts already made: {len(applied.changed)} changed, {len(applied.canceled)} canceled, "
            f"{len(applied.kept)} kept as they were"
        )
    return code


def _list(args: argparse.Namespace) -> int:
    from infrastructure.bootstrap import bootstrap

    return _print(bootstrap().recurring.all(args.workspace), args.json)


def _change(args: argparse.Namespace) -> int:
    from uuid import UUID

    from domain.rule import RuleNotFound
    from infrastructure.bootstrap import bootstrap

    try:
        rule_id = UUID(args.rule_id)
    except ValueError:
        raise RuleNotFound(f"{args.rule_id!r} is not a rule id (a UUID)") from None
    service = bootstrap().recurring
    view = getattr(service, "get" if args.change == "show" else args.change)(args.workspace, rule_id)
    return _print([view], args.json)


def _materialise(args: argparse.Namespace) -> int:
    import orjson

    from infrastructure.bootstrap import bootstrap
    from infrastructure.cli.render import out

    made = bootstrap().recurring.materialise()
    if args.json:
        print(orjson.dumps([m.model_dump(mode="json") for m in made], option=orjson.OPT_INDENT_2).decode())
        return 0
    for item in made:
        moved = f" ({item.adjustment.replace('_', ' ')})" if item.adjustment else ""
        due = f"{item.due_at:%Y-%m-%d %H:%M}Z"
        out.print(f"rule {item.rule_id} {item.local_date}: {len(item.post_ids)} posts due {due}{moved}")
        for reason in item.refused:
            out.print(f"  refused {reason}")
    out.print(f"{len(made)} occurrences materialised")
    return 0


def _target(text: str) -> tuple[str, str]:
    account, _, platform = text.rpartition(":")
    if not account or platform not in {p.value for p in Platform}:
        known = ", ".join(p.value for p in Platform)
        raise InvalidTarget(f"{text!r}: give ACCOUNT:PLATFORM, the platform one of {known}")
    return account, platform


def _date(text: str) -> Any:
    from datetime import date

    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidDate(f"--starts {text!r} is not a date (YYYY-MM-DD)") from None


def _time(text: str) -> Any:
    from datetime import time

    try:
        return time.fromisoformat(text)
    except ValueError:
        raise InvalidLocalTime(f"--at {text!r} is not a local time (HH:MM)") from None


def _print(views: list[RuleView], as_json: bool) -> int:
    import orjson
    from rich.text import Text

    from infrastructure.cli.render import out

    if as_json:
        print(orjson.dumps([v.model_dump(mode="json") for v in views], option=orjson.OPT_INDENT_2).decode())
        return 0
    for view in views:
        state = "paused" if view.paused else f"next {view.next_due:%Y-%m-%d %H:%M}Z" if view.next_due else "ended"
        out.print(Text(f"{view.id}  {view.name}  v{view.version}  {state}"))
        targets = ", ".join(f"{t.account}:{t.platform.value}" for t in view.targets)
        out.print(Text(f"  {view.at:%H:%M} {view.zone} from {view.starts}; {view.rrule}"), overflow="fold")
        out.print(Text(f"  to {targets}; {view.materialised} occurrences materialised"), overflow="fold")
    if not views:
        out.print("no rules in this workspace yet: herald rules add --help")
    return 0
