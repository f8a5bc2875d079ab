"""`herald serve`, `herald workspaces create`, `herald keys create|revoke`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import socket
from typing import TYPE_CHECKING, Any
from uuid import UUID

from domain.errors import HeraldError

if TYPE_CHECKING:
    import aiohttp

    from infrastructure.bootstrap import Herald
    from services.workspace_service import WorkspaceService

PARTS = ("api", "dispatcher", "projections", "webhooks")


def register(commands: Any) -> None:
    serve = commands.add_parser(
        "serve",
        help="run the API, dispatcher, reconciler, projections and webhook sender",
        description="All parts in one process by default (the embedded SQLite store). With PostgreSQL, "
        "run each part as its own process with --only, and as many API processes as wanted.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address the API listens on")
    serve.add_argument("--port", type=int, default=8080, help="port the API listens on")
    serve.add_argument("--only", choices=PARTS, action="append", help="run only this part (repeatable)")
    serve.add_argument(
        "--platform-url",
        default=os.environ.get("HERALD_PLATFORM_URL"),
        help="generic platform simulator for posts without a connected account",
    )
    serve.set_defaults(run=_serve)

    workspaces = commands.add_parser("workspaces", help="create workspaces")
    actions = workspaces.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = actions.add_parser("create", help='prints {"workspace_id": …, "api_key": …} (the key is shown once)')
    create.add_argument("name")
    create.set_defaults(run=_create_workspace)

    hooks = commands.add_parser("webhooks", help="outbound webhook deliveries")
    hook_actions = hooks.add_subparsers(dest="action", metavar="ACTION", required=True)
    again = hook_actions.add_parser("replay", help="send again every delivery made since an instant")
    again.add_argument("--since", required=True, help="ISO 8601 instant with an offset")
    again.add_argument("--workspace", help="only this workspace's deliveries")
    again.set_defaults(run=_replay_webhooks)

    keys = commands.add_parser("keys", help="issue and revoke API keys")
    key_actions = keys.add_subparsers(dest="action", metavar="ACTION", required=True)
    make = key_actions.add_parser("create", help="issue a key; printed once, stored only as a hash")
    make.add_argument("--workspace", required=True, help="workspace id")
    make.add_argument("--scopes", default="read,write", help="read, write, or read,write")
    make.set_defaults(run=_create_key)
    drop = key_actions.add_parser("revoke", help="revoke a key by its id (the part after the workspace id)")
    drop.add_argument("--workspace", required=True)
    drop.add_argument("key_id")
    drop.set_defaults(run=_revoke_key)


def _workspace_id(text: str) -> UUID:
    try:
        return UUID(text)
    except ValueError:
        raise HeraldError(f"{text!r} is not a workspace id", field="workspace") from None


def _workspaces() -> WorkspaceService:
    from infrastructure.bootstrap import bootstrap

    return bootstrap().workspaces


def _print_json(value: Any) -> None:
    import orjson

    print(orjson.dumps(value).decode())


def _create_workspace(args: argparse.Namespace) -> int:
    workspace_id, key = _workspaces().create(args.name)
    _print_json({"workspace_id": str(workspace_id), "api_key": key})
    return 0


def _create_key(args: argparse.Namespace) -> int:
    scopes = [s.strip() for s in args.scopes.split(",") if s.strip()]
    key = _workspaces().create_key(_workspace_id(args.workspace), scopes)
    _print_json({"api_key": key, "key_id": key.split("_")[2], "scopes": scopes})
    return 0


def _revoke_key(args: argparse.Namespace) -> int:
    _workspaces().revoke_key(_workspace_id(args.workspace), args.key_id)
    _print_json({"revoked": args.key_id})
    return 0


def _replay_webhooks(args: argparse.Namespace) -> int:
    import aiohttp

    from infrastructure.bootstrap import bootstrap
    from infrastructure.webhook_client import WebhookClient
    from infrastructure.zones import parse_instant

    since = parse_instant(args.since, field="since")
    herald = bootstrap()
    sender = herald.webhook_sender()
    sender.runner.catch_up()
    count = sender.replay(since, args.workspace)

    async def send_now() -> None:
        async with aiohttp.ClientSession() as session:
            await sender.tick(WebhookClient(session))

    asyncio.run(send_now())
    _print_json({"resent": count})
    return 0


class MalformedRequests(logging.Filter):
    """aiohttp answers a malformed HTTP message with 400 itself; log one line, not a traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        from aiohttp.http_exceptions import BadHttpMessage

        if record.exc_info and isinstance(record.exc_info[1], BadHttpMessage):
            record.msg, record.args, record.exc_info = "refused a malformed request: %s", (record.exc_info[1],), None
        return True


def _serve(args: argparse.Namespace) -> int:
    from infrastructure.bootstrap import bootstrap

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("aiohttp.server").addFilter(MalformedRequests())
    parts = set(args.only or PARTS)
    herald = bootstrap()
    try:
        return asyncio.run(_run(herald, parts, args))
    finally:
        herald.close()


async def _run(herald: Herald, parts: set[str], args: argparse.Namespace) -> int:
    import aiohttp
    from aiohttp import web

    from infrastructure.api.app import make_app
    from infrastructure.cli.render import out
    from services.dispatcher import DispatchSettings

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    tasks = []
    runner = None
    async with aiohttp.ClientSession() as session:
        if "api" in parts:
            runner = web.AppRunner(make_app(herald.api_context()), access_log=None, handle_signals=False)
            await runner.setup()
            await web.TCPSite(runner, args.host, args.port).start()
            out.print(f"herald API on http://{args.host}:{args.port}/v1 (OpenAPI at /v1/openapi.json)")
        if "dispatcher" in parts:
            router = herald.account_router(session, fallback_url=args.platform_url)
            worker = f"{socket.gethostname()}-{os.getpid()}"
            listener = herald.listener()
            dispatcher = herald.dispatcher(router, DispatchSettings(worker), wake=listener.wake if listener else None)
            tasks.append(asyncio.create_task(dispatcher.run()))
            stop_dispatcher = dispatcher.stop
        if "projections" in parts:
            tasks.append(asyncio.create_task(_project(herald, stop)))
        if "webhooks" in parts:
            tasks.append(asyncio.create_task(_send_webhooks(herald, session, stop)))
        await stop.wait()
        if "dispatcher" in parts:
            stop_dispatcher()
        await asyncio.gather(*tasks, return_exceptions=True)
        if runner is not None:
            await runner.cleanup()
    out.print("herald stopped cleanly")
    return 0


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
