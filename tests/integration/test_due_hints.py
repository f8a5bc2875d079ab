"""Due hints and claims made ahead (PostgreSQL, the simulator over HTTP, the real clock).

A post saved ready to go now is announced with the save's notification, so a dispatcher
claims it without waiting for its due index; a post due within the claim-ahead window is
claimed before its instant and sent at it, never before."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import psycopg
import pytest

from domain.content import Content
from infrastructure.bootstrap import Herald, bootstrap
from infrastructure.platforms.simulator import Simulator, start
from services.dispatcher import Dispatcher, DispatchSettings
from services.due_hints import heard
from services.results import PostSettings
from tests.conftest import POSTGRES_URL

pytestmark = pytest.mark.postgres

SETTINGS = PostSettings(grace=timedelta(hours=1), freeze=timedelta(0))


class NothingDue:
    """A due index that never learns of anything: only a hint can bring a post to a claim."""

    def due(self, *_: Any, **__: Any) -> list[Any]:
        return []

    def next_due(self) -> None:
        return None

    def counts(self) -> dict[str, int]:
        return {}


class NoCatchUp:
    def catch_up(self, *_: Any) -> int:
        return 0


def test_a_post_published_now_is_announced_with_its_account_and_partition(postgres_url: str) -> None:
    service = bootstrap(postgres_url, settings=SETTINGS)
    listener = service.listener()
    assert listener is not None
    try:
        later = service.posts.schedule(
            account="acme",
            platform="mastodon",
            content=Content(text="later"),
            scheduled_at=datetime.now(UTC) + timedelta(hours=1),
        )
        listener.heard(2.0)  # the bare notification of a post not due soon
        now = service.posts.publish_now(account="acme", platform="mastodon", content=Content(text="now"))
        hints = heard(listener.heard(5.0))
    finally:
        service.close()
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        bucket = conn.execute("SELECT hashtext('default/acme')::bigint & 63").fetchone()[0]  # as the due query
    assert [(h.post_id, h.workspace, h.account, h.platform, h.bucket) for h in hints] == [
        (str(now), "default", "acme", "mastodon", bucket)
    ]
    assert str(later) not in {h.post_id for h in hints}


def test_a_save_wakes_only_the_listeners_of_its_own_store(postgres_url: str) -> None:
    """Two Herald stores in one database (a schema each): a save in one is heard there, not
    in the other."""
    other_schema = f"t_{uuid.uuid4().hex[:12]}"
    ours, theirs = (
        bootstrap(postgres_url, settings=SETTINGS),
        bootstrap(f"{POSTGRES_URL}?schema={other_schema}", settings=SETTINGS),
    )
    listener = ours.listener()
    assert listener is not None
    try:
        theirs.posts.publish_now(account="acme", platform="mastodon", content=Content(text="theirs"))
        assert listener.heard(1.0) == []
        mine = ours.posts.publish_now(account="acme", platform="mastodon", content=Content(text="ours"))
        assert [hint.post_id for hint in heard(listener.heard(5.0))] == [str(mine)]
    finally:
        ours.close()
        theirs.close()
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{other_schema}" CASCADE')


async def dispatching(service: Herald, settings: DispatchSettings, blind: bool) -> tuple[Simulator, Any, Dispatcher]:
    simulator = Simulator(seed=1)
    runner, port = await start(simulator)
    session = aiohttp.ClientSession()
    router = service.simulator_router(f"http://127.0.0.1:{port}", session, timeout=2.0)
    listener = service.listener()
    assert listener is not None
    dispatcher = service.dispatcher(router, settings, listen=listener.heard)
    if blind:
        dispatcher.due_index, dispatcher.runner = NothingDue(), NoCatchUp()  # type: ignore[assignment]
    return simulator, (runner, session), dispatcher


@contextlib.asynccontextmanager
async def dispatched(dispatcher: Dispatcher, servers: Any) -> AsyncIterator[None]:
    """The dispatcher running; on leaving, stopped, and the simulator and session closed."""
    runner, session = servers
    running = asyncio.create_task(dispatcher.run())
    try:
        yield
    finally:
        dispatcher.stop()
        await running
        await session.close()
        await runner.cleanup()


async def until(what: str, done: Any, seconds: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not done():
        assert asyncio.get_running_loop().time() < deadline, f"{what}: not within {seconds:.0f}s"
        await asyncio.sleep(0.05)


def test_a_hinted_post_is_claimed_and_sent_without_the_due_index(postgres_url: str) -> None:
    async def main() -> None:
        service = bootstrap(postgres_url, settings=SETTINGS)
        simulator, servers, dispatcher = await dispatching(service, DispatchSettings(worker="w"), True)
        try:
            async with dispatched(dispatcher, servers):
                # its LISTEN began with the listener: the notification waits for it on the connection
                post_id = service.posts.publish_now(account="acme", platform="mastodon", content=Content(text="hi"))
                await until("delivered", lambda: service.posts.get_post(post_id).state == "delivered")
        finally:
            service.close()
        assert len(simulator.posts) == 1

    asyncio.run(main())


def test_posts_claimed_ahead_are_sent_at_their_instant_never_before(postgres_url: str) -> None:
    async def main() -> None:
        service = bootstrap(postgres_url, settings=SETTINGS)
        settings = DispatchSettings(worker="w", claim_ahead=timedelta(seconds=1))
        simulator, servers, dispatcher = await dispatching(service, settings, False)
        async with dispatched(dispatcher, servers):
            due = datetime.now(UTC) + timedelta(seconds=2)
            ids = service.posts.schedule_many(
                [
                    {"account": f"a{n}", "platform": "mastodon", "content": Content(text=f"p{n}"), "scheduled_at": due}
                    for n in range(20)
                ]
            )
            await until("delivered", lambda: all(service.posts.get_post(i).state == "delivered" for i in ids))
        claims = [next(r.at for r in service.posts.history(i) if r.name == "DispatchClaimed") for i in ids]
        service.close()
        received = [datetime.fromisoformat(post["created_at"]) for post in simulator.posts]
        assert len(received) == 20
        assert min(received) >= due, "a post went out before its instant"
        assert min(claims) < due  # claimed ahead, so the send could start at the instant

    asyncio.run(main())


def test_posts_the_ticks_and_the_hints_find_at_once_are_claimed_once(postgres_url: str) -> None:
    """The due index's ticks and the hints are two loops of one dispatcher; both find posts
    published now. While one routes them (reads their accounts), the other may take them: a
    second claim of a post in one process is refused as a conflict and fails its whole batch's
    save, which is then saved again post by post. Each post is routed once and asked for once."""

    async def main() -> None:
        service = bootstrap(postgres_url, settings=SETTINGS)
        simulator, servers, dispatcher = await dispatching(service, DispatchSettings(worker="w"), False)
        route_many, claim_many = dispatcher.router.route_many, dispatcher.dispatch.claim_many
        asked: list[uuid.UUID] = []
        routed: list[str] = []

        async def slow_route_many(keys: Any) -> Any:
            keys = list(keys)
            routed.extend(account for _, account, _ in keys)
            await asyncio.sleep(0.3)  # a slow account read: the other loop catches up meanwhile
            return await route_many(keys)

        def counted_claim_many(ids: list[uuid.UUID], **kwargs: Any) -> Any:
            asked.extend(ids)
            return claim_many(ids, **kwargs)

        dispatcher.router.route_many = slow_route_many  # type: ignore[method-assign, assignment]
        dispatcher.dispatch.claim_many = counted_claim_many  # type: ignore[method-assign, assignment]
        try:
            async with dispatched(dispatcher, servers):
                ids = service.posts.schedule_many(
                    [{"account": f"a{n}", "platform": "mastodon", "content": Content(text=f"p{n}")} for n in range(20)]
                )
                await until("delivered", lambda: all(service.posts.get_post(i).state == "delivered" for i in ids))
        finally:
            service.close()
        assert len(simulator.posts) == 20
        assert sorted(asked) == sorted(ids), "a post was asked for twice"
        assert sorted(routed) == sorted(f"a{n}" for n in range(20)), "a post was routed twice"

    asyncio.run(main())
