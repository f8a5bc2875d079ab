"""A small world for account and dispatch scenarios: Herald on a store with an injected clock,
the simulator impersonating every platform over real HTTP, and a dispatcher routing each post
through its account's real adapter."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import aiohttp

from domain.content import Content
from domain.decisions import RetryPolicy
from infrastructure.api.app import make_app
from infrastructure.api.server import GuardedRunner
from infrastructure.bootstrap import Herald, bootstrap
from infrastructure.platforms.media_steps import Polling
from infrastructure.platforms.simulator import Simulator, start
from services.account_service import AccountService
from services.dispatcher import Dispatcher, DispatchSettings
from services.posts import PostCommands
from services.results import PostSettings
from tests.clock import ManualClock
from tests.loopback import serve

SETTINGS = PostSettings(grace=timedelta(minutes=30), retry_policy=RetryPolicy(base_seconds=10, max_attempts=3))


@dataclass
class World:
    posts: PostCommands
    accounts: AccountService
    dispatcher: Dispatcher
    sim: Simulator
    clock: ManualClock
    base_url: str
    herald: Herald

    def connect(self, name: str, platform: str, user: str, *, expires_in: float | None = None, **extra: Any) -> None:
        grant = self.sim.grant(user, expires_in=3600)
        credentials = {
            "access_token": grant["access_token"],
            "refresh_token": grant["refresh_token"],
            "access_jwt": grant["access_token"],
            "refresh_jwt": grant["refresh_token"],
            "client_id": "c",
        }
        expires = self.clock.now + timedelta(seconds=expires_in) if expires_in else None
        self.accounts.connect(
            name=name,
            platform=platform,
            handle=name,
            remote_user_id=user,
            credentials=credentials,
            token_expires_at=expires,
            base_url=self.base_url,
            **extra,
        )

    def post(self, account: str, platform: str, text: str = "Hello", **content: Any) -> Any:
        return self.posts.publish_now(account=account, platform=platform, content=Content(text=text, **content))

    def events(self, post_id: Any) -> list[str]:
        return [record.name for record in self.posts.history(post_id)]


FAST = Polling(every=0.01, tries=50)  # the simulator's processing moves on with each look, not with time


def run(store_url: str, scenario: Callable[[World], Awaitable[None]], settings: PostSettings = SETTINGS) -> None:
    async def main() -> None:
        clock = ManualClock()
        herald = bootstrap(store_url, clock=clock, settings=settings)
        sim = Simulator(seed=2, clock=clock)
        runner, port = await start(sim)
        # Herald's own server, where Threads, Instagram and Facebook fetch files at signed URLs
        api, public = await serve(GuardedRunner(make_app(herald.api_context(generic_platform=True)), access_log=None))
        os.environ["HERALD_PUBLIC_URL"] = public
        async with aiohttp.ClientSession() as session:
            router = herald.account_router(session, timeout=2, polling=FAST)
            dispatcher = herald.dispatcher(router, DispatchSettings(worker="w"))
            world = World(herald.posts, herald.accounts, dispatcher, sim, clock, f"http://127.0.0.1:{port}", herald)
            try:
                await scenario(world)
            finally:
                await runner.cleanup()
                await api.cleanup()
                os.environ.pop("HERALD_PUBLIC_URL", None)
                herald.close()

    asyncio.run(main())
