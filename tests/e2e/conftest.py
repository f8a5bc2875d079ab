"""The API over real HTTP on 127.0.0.1: a live aiohttp server, a real client, a real store."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from infrastructure.api.app import make_app
from infrastructure.api.context import Context
from infrastructure.api.server import GuardedRunner
from infrastructure.bootstrap import bootstrap
from tests.clock import ManualClock


@pytest.fixture(autouse=True)
def _sealing(secret_key: str) -> None:
    """Every API test may connect accounts or add webhook endpoints: both seal secrets."""


@dataclass
class Api:
    ctx: Context
    clock: ManualClock
    session: aiohttp.ClientSession
    root: str
    workspace: str
    key: str

    def url(self, path: str, workspace: str | None = None) -> str:
        return f"{self.root}/v1/workspaces/{workspace or self.workspace}{path}"

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        key: str | None = None,
        idem: str | None = "auto",
        headers: dict[str, str] | None = None,
        workspace: str | None = None,
    ) -> tuple[int, Any, Any]:
        sent = {"Authorization": f"Bearer {key or self.key}", **(headers or {})}
        if method == "POST" and idem is not None:
            sent["Idempotency-Key"] = os.urandom(8).hex() if idem == "auto" else idem
        async with self.session.request(method, self.url(path, workspace), json=body, headers=sent) as answer:
            return answer.status, await answer.json(content_type=None), answer.headers


Scenario = Callable[[Api], Awaitable[None]]


def run_api(
    store_url: str, scenario: Scenario, *, creations_per_minute: int = 120, generic_platform: bool = True
) -> None:
    """The API on a live server; with `generic_platform` (as most tests), posts may name accounts
    that are not connected, as under `herald serve --platform-url`."""

    async def main() -> None:
        clock = ManualClock()
        ctx = bootstrap(store_url, clock=clock).api_context(creations_per_minute, generic_platform=generic_platform)
        workspace, key = ctx.workspaces.create("Acme")
        runner = GuardedRunner(make_app(ctx), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        try:
            async with aiohttp.ClientSession() as session:
                await scenario(Api(ctx, clock, session, f"http://127.0.0.1:{port}", str(workspace), key))
        finally:
            await runner.cleanup()
            ctx.close()

    asyncio.run(main())


def post_body(**extra: Any) -> dict[str, Any]:
    return {
        "account": "acme",
        "platform": "mastodon",
        "content": {"text": "Hello"},
        "scheduled_at": "2026-11-23T12:00:00+01:00",
        **extra,
    }


__all__ = ["AsyncIterator", "post_body", "run_api"]
