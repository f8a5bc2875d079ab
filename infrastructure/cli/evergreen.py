"""`herald evergreen add|list|show|pause|resume|delete|fill`: pools of posts worth saying
again, recycled into their accounts' free queue slots."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from domain.errors import HeraldError
from infrastructure.cli.rules import _target

if TYPE_CHECKING:
    from services.evergreen import PoolView


class InvalidItems(HeraldError):
    code = "invalid_items"
    field = "items"


def register(commands: Any) -> None:
    pools = commands.add_parser("evergreen", help="recycle evergreen posts into free queue slots")
    actions = pools.add_subparsers(dest="action", metavar="ACTION", required=True)

    add = actions.add_parser(
        "add",
        help="a pool of items recycled into its accounts' free queue slots",
        description="Each account needs a queue (herald accounts queue). A day ahead (herald serve's planner, "
        "or herald evergreen fill) each free slot takes the next item in rotation not used there within "
        "--every-days, never the one just used, with the item's next variant. X refuses a text the account "
        "posted lately: a pool feeding X needs two or more variants per item, each its own text.",
        epilog="example: herald evergreen add --name tips --target acme-x:x --items tips.json --every-days 21, "
        'where tips.json holds [{"key": "backup", "variants": ["Back up today.", "Have you backed up?"]}]',
    )
    add.add_argument("--name", required=True)
    add.add_argument("--target", action="append", required=True, metavar="ACCOUNT:PLATFORM", help="repeatable")
    add.add_argument("--items", required=True, metavar="FILE|-", help="JSON list of {key, variants: [text or content]}")
    add.add_argument("--every-days", type=float, default=21.0, help="the least time before an item comes back")
    add.add_argument("--category", default="evergreen", help="the posts' queue category")
    _common(add)
    add.set_defaults(run=_add)

    listing = actions.add_parser("list", help="the workspace's pools")
    _common(listing)
    listing.set_defaults(run=_list)

    for name, text in (
        ("show", "one pool"),
        ("pause", "stop recycling (posts already made stay)"),
        ("resume", "recycle again"),
        ("delete", "delete the pool (posts already made stay)"),
    ):
        action = actions.add_parser(name, help=text)
        action.add_argument("pool_id")
        _common(action)
        action.set_defaults(run=_change, change=name)

    fill = actions.add_parser("fill", help="recycle items into every free slot in the next day, now")
    fill.add_argument("--json", action="store_true", help="print for machines")
    fill.set_defaults(run=_fill)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workspace", default="default")
    parser.add_argument("--json", action="store_true", help="print for machines")


def _items(source: str) -> list[Any]:
    import sys

    import orjson
    from pydantic import ValidationError

    from domain.content import Content
    from domain.evergreen import EvergreenItem

    try:
        raw = sys.stdin.buffer.read() if source == "-" else open(source, "rb").read()  # noqa: SIM115
        given = orjson.loads(raw)
    except OSError as problem:
        raise InvalidItems(f"cannot read {source}: {problem.strerror}") from None
    except orjson.JSONDecodeError as problem:
        raise InvalidItems(f"{source} is not JSON: {problem}") from None
    if not isinstance(given, list):
        raise InvalidItems('give a JSON list: [{"key": "…", "variants": ["…", "…"]}]')
    items = []
    for index, item in enumerate(given):
        try:
            variants = [Content(text=v) if isinstance(v, str) else Content.model_validate(v) for v in item["variants"]]
            items.append(EvergreenItem(key=item["key"], variants=tuple(variants)))
        except (KeyError, TypeError, ValidationError) as problem:
            raise InvalidItems(
                f"item {index + 1}: give a key and variants (texts, or content objects): {problem}"[:300],
                field=f"items[{index}]",
            ) from None
    return items


def _add(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from domain.platform import Platform
    from domain.rule import Target
    from infrastructure.bootstrap import bootstrap

    view = bootstrap().evergreen.create(
        args.workspace,
        name=args.name,
        targets=[Target(account=a, platform=Platform(p)) for a, p in map(_target, args.target)],
        items=_items(args.items),
        min_interval=timedelta(days=args.every_days),
        category=args.category,
    )
    return _print([view], args.json)


def _list(args: argparse.Namespace) -> int:
    from infrastructure.bootstrap import bootstrap

    return _print(bootstrap().evergreen.all(args.workspace), args.json)


def _change(args: argparse.Namespace) -> int:
    from uuid import UUID

    from domain.evergreen import PoolNotFound
    from infrastructure.bootstrap import bootstrap

    try:
        pool_id = UUID(args.pool_id)
    except ValueError:
        raise PoolNotFound(f"{args.pool_id!r} is not a pool id (a UUID)") from None
    service = bootstrap().evergreen
    view = getattr(service, "get" if args.change == "show" else args.change)(args.workspace, pool_id)
    return _print([view], args.json)


def _fill(args: argparse.Namespace) -> int:
    import orjson

    from infrastructure.bootstrap import bootstrap
    from infrastructure.cli.render import out

    made = bootstrap().evergreen.fill()
    if args.json:
        print(orjson.dumps([m.model_dump(mode="json") for m in made], option=orjson.OPT_INDENT_2).decode())
        return 0
    for item in made:
        out.print(f"{item.account}: {item.item} (variant {item.variant + 1}) as post {item.post_id}")
    out.print(f"{len(made)} posts recycled into free slots")
    return 0


def _print(views: list[PoolView], as_json: bool) -> int:
    import orjson
    from rich.text import Text

    from infrastructure.cli.render import out

    if as_json:
        print(orjson.dumps([v.model_dump(mode="json") for v in views], option=orjson.OPT_INDENT_2).decode())
        return 0
    for view in views:
        state = "paused" if view.paused else "active"
        out.print(Text(f"{view.id}  {view.name}  {state}"))
        targets = ", ".join(f"{t.account}:{t.platform.value}" for t in view.targets)
        days = view.min_interval_seconds / 86400
        out.print(Text(f"  {len(view.items)} items, each back after {days:g} days at the soonest"), overflow="fold")
        out.print(Text(f"  to {targets}; {view.recycled} reuses so far"), overflow="fold")
    if not views:
        out.print("no evergreen pools in this workspace yet: herald evergreen add --help")
    return 0
