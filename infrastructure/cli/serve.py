"""`herald serve`, `herald workspaces create`, `herald keys create|revoke`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import socket
from typing import Any
from uuid import UUID

import aiohttp
import orjson
from aiohttp import web
from aiohttp.http_exceptions import BadHttpMessage

from domain.errors import HeraldError
from infrastructure.api.app import make_app
from infrastructure.bootstrap import account_router, api_context, open_read_store_for, open_workspaces
from infrastructure.cli.render import out
from infrastructure.zones import parse_instant
from projections.catalog import PROJECTIONS
from projections.runner import ProjectionRunner
from services.dispatcher import Dispatcher, DispatchSettings
from services.webhook_sender import WebhookSender

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


def _create_workspace(args: argparse.Namespace) -> int:
    workspace_id, key = open_workspaces().create(args.name)
    print(orjson.dumps({"workspace_id": str(workspace_id), "api_key": key}).decode())
    return 0


def _create_key(args: argparse.Namespace) -> int:
    scopes = [s.strip() for s in args.scopes.split(",") if s.strip()]
    key = open_workspaces().create_key(_workspace_id(args.workspace), scopes)
    print(orjson.dumps({"api_key": key, "key_id": key.split("_")[2], "scopes": scopes}).decode())
    return 0


def _revoke_key(args: argparse.Namespace) -> int:
    open_workspaces().revoke_key(_workspace_id(args.workspace), args.key_id)
    print(orjson.dumps({"revoked": args.key_id}).decode())
    return 0


def _replay_webhooks(args: argparse.Namespace) -> int:
    since = parse_instant(args.since, field="since")
    ctx = api_context()
    sender = webhook_sender(ctx)
    sender.runner.catch_up()
    count = sender.replay(since, args.workspace)

    async def send_now() -> None:
        async with aiohttp.ClientSession() as session:
            await sender.tick(session)

    asyncio.run(send_now())
    print(orjson.dumps({"resent": count}).decode())
    return 0


class MalformedRequests(logging.Filter):
    """aiohttp answers a malformed HTTP message with 400 itself; log one line, not a traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], BadHttpMessage):
            record.msg, record.args, record.exc_info = "refused a malformed request: %s", (record.exc_info[1],), None
        return True


def _serve(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("aiohttp.server").addFilter(MalformedRequests())
    parts = set(args.only or PARTS)
    ctx = api_context()
    return asyncio.run(_run(ctx, parts, args))


async def _run(ctx: Any, parts: set[str], args: argparse.Namespace) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    tasks = []
    runner = None
    async with aiohttp.ClientSession() as session:
        if "api" in parts:
            runner = web.AppRunner(make_app(ctx), access_log=None, handle_signals=False)
            await runner.setup()
            await web.TCPSite(runner, args.host, args.port).start()
            out.print(f"herald API on http://{args.host}:{args.port}/v1 (OpenAPI at /v1/openapi.json)")
        if "dispatcher" in parts:
            router = account_router(ctx.posts, ctx.accounts, session, fallback_url=args.platform_url)
            worker = f"{socket.gethostname()}-{os.getpid()}"
            dispatcher = Dispatcher(ctx.posts, open_read_store_for(ctx.posts), router, DispatchSettings(worker))
            tasks.append(asyncio.create_task(dispatcher.run()))
            stop_dispatcher = dispatcher.stop
        if "projections" in parts:
            tasks.append(asyncio.create_task(_project(ctx, stop)))
        if "webhooks" in parts:
            tasks.append(asyncio.create_task(_send_webhooks(ctx, session, stop)))
        await stop.wait()
        if "dispatcher" in parts:
            stop_dispatcher()
        await asyncio.gather(*tasks, return_exceptions=True)
        if runner is not None:
            await runner.cleanup()
    out.print("herald stopped cleanly")
    return 0


async def _project(ctx: Any, stop: asyncio.Event) -> None:
    store = open_read_store_for(ctx.posts)
    runners = [ProjectionRunner(ctx.posts, store, cls()) for cls in PROJECTIONS.values()]
    while not stop.is_set():
        applied = sum([await asyncio.to_thread(r.run_once) for r in runners])
        if not applied:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=0.2)


def webhook_sender(ctx: Any) -> WebhookSender:
    return WebhookSender(ctx.webhooks, ctx.workspaces, ctx.accounts.sealer, open_read_store_for(ctx.posts))


async def _send_webhooks(ctx: Any, session: aiohttp.ClientSession, stop: asyncio.Event) -> None:
    sender = webhook_sender(ctx)
    while not stop.is_set():
        if not await sender.tick(session):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=0.5)
