"""`herald serve`, `herald workspaces create`, `herald keys create|revoke`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
from typing import TYPE_CHECKING, Any
from uuid import UUID

from domain.errors import HeraldError

if TYPE_CHECKING:
    from services.workspace_service import WorkspaceService

PARTS = ("api", "dispatcher", "projections", "webhooks", "planner", "engagement")  # as infrastructure.serving.PARTS


def register(commands: Any) -> None:
    serve = commands.add_parser(
        "serve",
        help="run the API, dispatcher, reconciler, projections, webhook sender, planner and engagement fetcher",
        description="All parts in one process by default (the embedded SQLite store). With PostgreSQL, "
        "run each part as its own process with --only, and as many API processes as wanted.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address the API listens on")
    serve.add_argument("--port", type=int, default=8080, help="port the API listens on")
    serve.add_argument(
        "--reuse-port",
        action="store_true",
        help="let several API processes listen on the same port (each with its own small pool); the "
        "kernel spreads the connections between them",
    )
    serve.add_argument("--only", choices=PARTS, action="append", help="run only this part (repeatable)")
    serve.add_argument(
        "--platform-url",
        default=os.environ.get("HERALD_PLATFORM_URL"),
        help="generic platform simulator for posts without a connected account",
    )
    serve.set_defaults(run=_serve, log_level="info")

    workspaces = commands.add_parser("workspaces", help="create workspaces")
    actions = workspaces.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = actions.add_parser("create", help='prints {"workspace_id": …, "api_key": …} (the key is shown once)')
    create.add_argument("name")
    create.set_defaults(run=_create_workspace)
    approval = actions.add_parser(
        "approval",
        help="whether the workspace's posts wait for an approver (an account's own --approval wins)",
    )
    approval.add_argument("workspace", help="workspace id")
    approval.add_argument("required", choices=("on", "off"))
    approval.set_defaults(run=_set_approval)

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
    make.add_argument(
        "--scopes",
        default="read,write",
        help="comma-separated: read, write, approve (decides on approvals), support (signs in to /console)",
    )
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


def _set_approval(args: argparse.Namespace) -> int:
    required = _workspaces().set_approval(_workspace_id(args.workspace), args.required == "on")
    _print_json({"workspace_id": args.workspace, "approval": required})
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
    from infrastructure.bootstrap import bootstrap
    from infrastructure.targets import outbound_session
    from infrastructure.webhook_client import WebhookClient
    from infrastructure.zones import parse_instant

    since = parse_instant(args.since, field="since")
    herald = bootstrap()
    sender = herald.webhook_sender()
    sender.runner.catch_up()
    count = sender.replay(since, args.workspace)

    async def send_now() -> None:
        async with outbound_session() as session:
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
    from infrastructure.cli.render import err, out
    from infrastructure.serving import serve

    logging.getLogger("aiohttp.server").addFilter(MalformedRequests())
    parts = set(args.only or PARTS)
    herald = bootstrap()
    if "api" in parts:
        out.print(
            f"herald API on http://{args.host}:{args.port}/v1 (OpenAPI at /v1/openapi.json, /healthz, /readyz;"
            " the support console at /console)"
        )
    try:
        supervisor = asyncio.run(
            serve(
                herald,
                parts,
                host=args.host,
                port=args.port,
                platform_url=args.platform_url,
                reuse_port=args.reuse_port,
            )
        )
    finally:
        herald.close()
    if supervisor.failed:
        err.print(f"[red]herald stopped: part {supervisor.failed} kept crashing[/red] (see the log above)")
        return 1
    out.print("herald stopped cleanly")
    return 0
