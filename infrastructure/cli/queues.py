"""`herald accounts queue|queue-show|queue-order|queue-shuffle`: an account's weekly slot grid
and the posts waiting in it (posts join with `herald post queue`)."""

from __future__ import annotations

import argparse
from datetime import time, timedelta
from typing import TYPE_CHECKING, Any

from domain.errors import HeraldError

if TYPE_CHECKING:
    from services.queues import QueueView

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class InvalidSlots(HeraldError):
    code = "invalid_slots"
    field = "slots"


def register(actions: Any) -> None:
    grid = actions.add_parser(
        "queue",
        help="set an account's queue: weekly slots in its zone, a gap and a daily cap",
        description="Posts join it with herald post queue (API: mode queue). Slots are given as DAYS TIMES, "
        "days as mon..sun, ranges (mon-fri) or lists (mon,wed), times as HH:MM lists.",
        epilog='example: herald accounts queue acme-x --zone Europe/Paris --slots "mon-fri 09:00,12:30,17:00" '
        '--slots "sat 10:00" --gap-minutes 120 --cap 3',
    )
    grid.add_argument("name")
    grid.add_argument("--zone", required=True, help="IANA zone name")
    grid.add_argument("--slots", action="append", required=True, metavar="DAYS TIMES", help="repeatable")
    grid.add_argument("--gap-minutes", type=float, default=0, help="the least time between the account's posts")
    grid.add_argument("--cap", type=int, help="at most this many posts a local day")
    grid.add_argument("--workspace", default="default")
    grid.set_defaults(run=_set)

    show = actions.add_parser("queue-show", help="an account's queue: its slots and the posts waiting in it")
    show.add_argument("name")
    show.add_argument("--workspace", default="default")
    show.set_defaults(run=_show)

    order = actions.add_parser(
        "queue-order",
        help="put the posts waiting in a queue in a new order (their slots follow it)",
        epilog="example: herald accounts queue-order acme-x 6f1c… 0b2d… 9e4a…  (every waiting post, once)",
    )
    order.add_argument("name")
    order.add_argument("post_ids", nargs="+", metavar="POST_ID", help="every waiting post (queue-show lists them)")
    order.add_argument("--workspace", default="default")
    order.set_defaults(run=_order)

    mix = actions.add_parser("queue-shuffle", help="shuffle the posts waiting in a queue (recorded with its seed)")
    mix.add_argument("name")
    mix.add_argument("--seed", type=int, help="the same seed gives the same order (default: drawn)")
    mix.add_argument("--workspace", default="default")
    mix.set_defaults(run=_shuffle)


def _slot_days(text: str) -> list[int]:
    days: list[int] = []
    for part in text.lower().split(","):
        first, _, last = part.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise InvalidSlots(f"{part!r} is not a day (mon..sun), a range (mon-fri) or a list (mon,wed)")
        start, end = DAYS.index(first), DAYS.index(last or first)
        days += list(range(start, end + 1)) if start <= end else [*range(start, 7), *range(0, end + 1)]
    return days


def _set(args: argparse.Namespace) -> int:
    from infrastructure.bootstrap import bootstrap

    slots: list[tuple[int, time]] = []
    for given in args.slots:
        days, _, times = given.strip().partition(" ")
        try:
            ats = [time.fromisoformat(t.strip()) for t in times.split(",") if t.strip()]
        except ValueError:
            raise InvalidSlots(f"{times!r}: give times as HH:MM, separated by commas") from None
        if not ats:
            raise InvalidSlots(f'{given!r}: give DAYS TIMES, e.g. "mon-fri 09:00,17:00"')
        slots += [(day, at) for day in _slot_days(days) for at in ats]
    view = bootstrap().queues.configure(
        args.workspace,
        args.name,
        zone=args.zone,
        slots=slots,
        min_gap=timedelta(minutes=args.gap_minutes),
        daily_cap=args.cap,
    )
    _print(view)
    return 0


def _show(args: argparse.Namespace) -> int:
    from infrastructure.bootstrap import bootstrap

    _print(bootstrap().queues.get(args.workspace, args.name))
    return 0


def _order(args: argparse.Namespace) -> int:
    from uuid import UUID

    from infrastructure.bootstrap import bootstrap

    try:
        order = [UUID(text) for text in args.post_ids]
    except ValueError:
        raise HeraldError("give post ids as UUIDs (herald accounts queue-show lists them)", field="order") from None
    _print(bootstrap().queues.reorder(args.workspace, args.name, order, actor="cli"))
    return 0


def _shuffle(args: argparse.Namespace) -> int:
    import secrets

    from infrastructure.bootstrap import bootstrap

    seed = args.seed if args.seed is not None else secrets.randbelow(2**31)
    _print(bootstrap().queues.shuffle(args.workspace, args.name, seed, actor="cli"))
    from infrastructure.cli.render import out

    out.print(f"  shuffled with seed {seed}")
    return 0


def _print(view: QueueView) -> None:
    from zoneinfo import ZoneInfo

    from rich.table import Table

    from infrastructure.cli.render import out

    by_day: dict[int, list[str]] = {}
    for day, at in view.slots:
        by_day.setdefault(day, []).append(at.strftime("%H:%M"))
    out.print(f"{view.account}'s queue, in {view.zone}:")
    for day in sorted(by_day):
        out.print(f"  {DAYS[day]}  {', '.join(by_day[day])}")
    cap = f"; at most {view.daily_cap} a day" if view.daily_cap else ""
    out.print(f"  at least {view.min_gap_seconds / 60:g} minutes apart{cap}")
    zone = ZoneInfo(view.zone)
    free = ", ".join(f"{slot.astimezone(zone):%a %d %b %H:%M}" for slot in view.next_free[:3])
    out.print(f"  next free: {free or 'none within 60 days'}")
    if view.waiting:
        table = Table(title=f"waiting ({len(view.waiting)})", title_justify="left")
        for column in ("#", "post", "category", "slot (local)"):
            table.add_column(column)
        for n, post in enumerate(view.waiting, 1):
            slot = f"{post.scheduled_at.astimezone(zone):%a %d %b %H:%M}" if post.scheduled_at else "-"
            table.add_row(str(n), str(post.post_id), post.category or "-", slot)
        out.print(table)
