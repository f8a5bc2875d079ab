"""`herald serve`: the API, a dispatcher (with its reconciler), the projections, the webhook
sender and the planner (recurring rules) in one process, each a supervised part
(`infrastructure/supervisor.py`), and the readiness the API reports at /readyz."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web

from infrastructure.api.app import make_app
from infrastructure.api.server import GuardedRunner
from infrastructure.supervisor import Part, Supervisor
from infrastructure.targets import outbound_session

if TYPE_CHECKING:
    from infrastructure.bootstrap import Herald

PARTS = ("api", "dispatcher", "projections", "webhooks", "planner", "engagement")
ENGAGEMENT_EVERY = 60.0  # seconds between looks for delivered posts whose counts are due
PLAN_EVERY = 60.0  # seconds between looks for recurring occurrences and free evergreen slots
MAX_LAG = 10_000  # events a live projection may be behind the log and still count as ready


async def serve(
    herald: Herald, parts: set[str], *, host: str, port: int, platform_url: str | None, reuse_port: bool = False
) -> Supervisor:
    """Run the parts until `stop` (SIGTERM, SIGINT, or a part that keeps crashing)."""
    import signal

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with outbound_session(trusted=platform_url) as session:
        chosen = [name for name in PARTS if name in parts]
        supervisor = Supervisor([Part(name, _part(name, herald, session, platform_url)) for name in chosen], stop)
        runner = None
        if "api" in parts:
            app = make_app(
                herald.api_context(generic_platform=bool(platform_url)), readiness=lambda: readiness(herald, supervisor)
            )
            runner = GuardedRunner(app, access_log=None, handle_signals=False)
            await runner.setup()
            # reuse_port: several API processes listen on one port, the kernel spreads connections
            await web.TCPSite(runner, host, port, reuse_port=reuse_port or None).start()
        try:
            await supervisor.run()
        finally:
            if runner is not None:
                await runner.cleanup()
    return supervisor


def _part(name: str, herald: Herald, session: aiohttp.ClientSession, platform_url: str | None) -> Any:
    if name == "api":
        return _wait  # the API answers from aiohttp's own tasks; the part lasts until serve stops
    if name == "dispatcher":
        listener = herald.listener()  # one LISTEN per process, kept across restarts
        partitions = herald.partitions(listener, f"{socket.gethostname()}-{os.getpid()}")  # its place, likewise

        async def dispatch(stop: asyncio.Event) -> None:
            from services.dispatcher import CLAIM_AHEAD, DispatchSettings

            router = herald.account_router(session, fallback_url=platform_url)
            worker = f"{socket.gethostname()}-{os.getpid()}"
            dispatcher = herald.dispatcher(
                router,
                DispatchSettings(worker, claim_ahead=CLAIM_AHEAD),
                listen=listener.heard if listener else None,
                partitions=partitions,
            )
            stopping = asyncio.create_task(_stop_on(stop, dispatcher.stop))
            try:
                await dispatcher.run()
            finally:
                stopping.cancel()

        return dispatch
    if name == "projections":
        return lambda stop: _project(herald, stop)
    if name == "planner":
        return lambda stop: _plan(herald, stop)
    if name == "engagement":
        return lambda stop: _fetch_engagement(herald, session, platform_url, stop)
    return lambda stop: _send_webhooks(herald, session, stop)


async def _plan(herald: Herald, stop: asyncio.Event) -> None:
    """Materialise recurring rules' occurrences as they come within their lead time, and
    recycle evergreen pools into free queue slots; any number of planners may run, each
    occurrence's posts and each reuse are made once."""
    while not stop.is_set():
        await asyncio.to_thread(herald.recurring.materialise)
        await asyncio.to_thread(herald.evergreen.fill)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=PLAN_EVERY)


async def _fetch_engagement(
    herald: Herald, session: aiohttp.ClientSession, platform_url: str | None, stop: asyncio.Event
) -> None:
    """Read the platforms' counts of delivered posts at +1 h, +24 h and +7 d."""
    fetcher = herald.engagement_fetcher(herald.account_router(session, fallback_url=platform_url))
    while not stop.is_set():
        await fetcher.tick()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=ENGAGEMENT_EVERY)


async def _wait(stop: asyncio.Event) -> None:
    await stop.wait()


async def _stop_on(stop: asyncio.Event, then: Any) -> None:
    await stop.wait()
    then()


async def _project(herald: Herald, stop: asyncio.Event) -> None:
    from projections.catalog import PROJECTIONS

    runners = [herald.runner(cls()) for cls in PROJECTIONS.values()]
    while not stop.is_set():
        applied = sum([await asyncio.to_thread(r.run_once) for r in runners])
        if not applied:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=0.2)


async def _send_webhooks(herald: Herald, session: aiohttp.ClientSession, stop: asyncio.Event) -> None:
    from infrastructure.webhook_client import WebhookClient

    sender = herald.webhook_sender()
    send = WebhookClient(session)
    while not stop.is_set():
        if not await sender.tick(send):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=0.5)


async def readiness(herald: Herald, supervisor: Supervisor) -> tuple[bool, dict[str, Any]]:
    """Every part running, the store answering, each live projection within MAX_LAG events."""
    parts = supervisor.report()
    try:
        lag, quarantined = await asyncio.wait_for(asyncio.to_thread(_lag, herald), timeout=5)
        store = "reachable"
    except Exception as problem:  # the store did not answer: not ready, and say why
        lag, quarantined = {}, 0
        store = f"unreachable: {type(problem).__name__}: {problem}".splitlines()[0][:300]
    ready = (
        all(part["running"] for part in parts.values())
        and store == "reachable"
        and all(behind <= MAX_LAG for behind in lag.values())
    )
    return ready, {"parts": parts, "store": store, "projections_behind": lag, "quarantined": quarantined}


def _lag(herald: Herald) -> tuple[dict[str, int], int]:
    """(events each projection is behind the log, events set aside)."""
    last = herald.projections.last_position()
    lag = {name: last - position for name, position in herald.projections.positions().items()}
    return lag, len(herald.projections.quarantined())
