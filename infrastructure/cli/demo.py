"""`herald demo`: an end-to-end publish on the embedded store against the platform simulator."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

if TYPE_CHECKING:
    from infrastructure.bootstrap import Herald

FAULTS = {"accept_drop": 0.15, "http_500": 0.15, "http_429": 0.1, "http_403": 0.04, "latency_ms": 30.0}
ACCOUNTS = [("acme-x", "x"), ("acme-mastodon", "mastodon"), ("acme-bsky", "bluesky"), ("acme-in", "linkedin")]


def register(commands: Any) -> None:
    demo = commands.add_parser(
        "demo",
        help="publish a dozen posts end to end through a faulty platform simulator",
        description="Runs on HERALD_DATABASE_URL (scripts/demo points it at a fresh SQLite file). "
        "Schedules posts due within seconds, dispatches them through an in-process platform "
        "simulator that drops, fails and rate-limits requests, and prints what happened.",
    )
    demo.add_argument("--seed", type=int, default=7, help="seed for the simulator's faults")
    demo.set_defaults(run=run)


def run(args: Any) -> int:
    return asyncio.run(_run(args.seed))


async def _run(seed: int) -> int:
    from domain.decisions import RetryPolicy
    from infrastructure.bootstrap import bootstrap
    from infrastructure.cli.render import out, print_timeline
    from infrastructure.platforms.simulator import Simulator, start
    from infrastructure.targets import outbound_session
    from projections.timeline import Timeline
    from services.dispatcher import DispatchSettings
    from services.results import PostSettings

    settings = PostSettings(
        grace=timedelta(minutes=5),
        freeze=timedelta(seconds=0),
        lease=timedelta(seconds=15),
        retry_policy=RetryPolicy(base_seconds=0.3, cap_seconds=2, max_attempts=5, jitter=0.2),
    )
    herald = bootstrap(settings=settings)
    simulator = Simulator(faults=dict(FAULTS), seed=seed)
    runner, port = await start(simulator)
    out.rule("Herald demo: a dozen posts through a faulty platform")
    out.print(f"simulator on 127.0.0.1:{port} with faults {FAULTS}")
    post_ids = await asyncio.to_thread(_schedule_posts, herald)
    async with outbound_session(allow_private=True) as session:
        platforms = herald.simulator_router(f"http://127.0.0.1:{port}", session, timeout=2.0)
        dispatcher = herald.dispatcher(
            platforms, DispatchSettings(worker="demo-worker", idle_poll=0.1, send_margin=timedelta(seconds=4))
        )
        await asyncio.wait_for(dispatcher.run(until_idle=True), timeout=25)
    await runner.cleanup()

    posts = [herald.posts.get_post(post_id) for post_id in post_ids]
    _summary(posts)
    delivered = [p for p in posts if p.state == "delivered"]
    keys = Counter(p["publish_key"] for p in simulator.posts)
    out.print(
        f"the simulator holds {len(simulator.posts)} posts for {len(delivered)} delivered; "
        f"duplicates: {sum(n - 1 for n in keys.values())}; requests received: {simulator.requests}"
    )
    star = _most_interesting(herald, post_ids)
    out.rule("the support timeline of the most eventful post")
    herald.runner(Timeline()).catch_up()
    print_timeline(herald.timeline.rows(str(star)))
    herald.close()
    return 0


def _schedule_posts(herald: Herald) -> list[UUID]:
    from domain.content import Content

    now = herald.clock()
    ids = []
    for n in range(12):
        account, platform = ACCOUNTS[n % len(ACCOUNTS)]
        ids.append(
            herald.posts.schedule(
                account=account,
                platform=platform,
                content=Content(text=f"Demo post {n + 1}: doors open at 9!"),
                scheduled_at=now + timedelta(seconds=1 + n % 3),
                external_id=f"demo-{n + 1}",
            )
        )
    herald.posts.edit_content(ids[0], Content(text="Demo post 1, edited before it went out"))
    herald.posts.reschedule(ids[1], now + timedelta(seconds=2))
    herald.posts.cancel(ids[2], reason="the demo changed its mind")
    return ids


def _summary(posts: list[Any]) -> None:
    from rich.table import Table

    from infrastructure.cli.render import out

    table = Table(title="outcomes")
    for column in ("external id", "account", "state", "attempts", "reconciled", "reason"):
        table.add_column(column)
    for post in posts:
        table.add_row(
            post.external_id,
            f"{post.account} ({post.platform})",
            post.state,
            str(post.attempt),
            "yes" if post.reconciled else "",
            post.failure_reason or "",
        )
    out.print(table)


def _most_interesting(herald: Herald, post_ids: list[UUID]) -> UUID:
    """Prefer a post that was ambiguous and reconciled, then one retried after a 429."""

    def score(post_id: UUID) -> tuple[int, int]:
        records = herald.posts.history(post_id)
        names = [r.name for r in records]
        reconciled = any(r.name == "Delivered" and r.data.get("reconciled") for r in records)
        rate_limited = any(
            r.name == "AttemptFailed" and (r.data.get("observed") or {}).get("http_status") == 429 for r in records
        )
        return (2 * reconciled + rate_limited, len(names))

    return max(post_ids, key=score)
