"""An aiohttp app served on a free port of 127.0.0.1, for tests that stand in for a host."""

from __future__ import annotations

from aiohttp import web


async def serve(app: web.Application | web.AppRunner) -> tuple[web.AppRunner, str]:
    """The started runner (clean it up when done) and the app's base URL."""
    runner = app if isinstance(app, web.AppRunner) else web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
