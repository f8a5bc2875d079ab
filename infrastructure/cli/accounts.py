"""`herald accounts add|list|show|reconnect|disconnect`. Credentials are read from a JSON file
or standard input, never from the command line (where `ps` would show them), and are sealed
with HERALD_SECRET_KEY before they are stored."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from domain.errors import HeraldError
from domain.platform import Platform
from infrastructure.cli import queues

if TYPE_CHECKING:
    from services.account_service import AccountService


class BadCredentials(HeraldError):
    code = "invalid_credentials"
    field = "credentials"


def register(commands: Any) -> None:
    accounts = commands.add_parser("accounts", help="connect and inspect platform accounts")
    actions = accounts.add_subparsers(dest="action", metavar="ACTION", required=True)

    add = actions.add_parser("add", help="connect an account (credentials as JSON from a file or -)")
    add.add_argument("--name", required=True, help="the account name posts refer to (e.g. acme-x)")
    add.add_argument("--platform", required=True, choices=[p.value for p in Platform])
    add.add_argument("--handle", required=True, help="the public handle (acme, acme.bsky.social)")
    add.add_argument("--user-id", default="", help="the platform's user id (Bluesky: found at login)")
    add.add_argument("--base-url", help="the API host (default: the platform's; Mastodon: the instance)")
    add.add_argument(
        "--credentials",
        required=True,
        metavar="FILE|-",
        help='JSON, e.g. {"access_token": "…", "refresh_token": "…", "client_id": "…"}; '
        'Bluesky: {"identifier": "…", "app_password": "…"}',
    )
    add.add_argument("--expires-in", type=float, help="seconds until the access token expires")
    add.add_argument("--quota-limit", type=int, help="posts per window, where the account's differs")
    add.add_argument(
        "--approval", action="store_true", help="its posts wait for an approver (herald post approve) before queuing"
    )
    add.add_argument("--workspace", default="default")
    add.set_defaults(run=_add)

    for name, helptext in (("list", "every account, no credentials shown"), ("show", "one account")):
        parser = actions.add_parser(name, help=helptext)
        if name == "show":
            parser.add_argument("name")
        parser.add_argument("--workspace", default=None if name == "list" else "default")
        parser.add_argument("--json", action="store_true")
        parser.set_defaults(run=_list if name == "list" else _show)

    queues.register(actions)

    again = actions.add_parser("reconnect", help="give a disconnected account new credentials")
    again.add_argument("name")
    again.add_argument("--credentials", required=True, metavar="FILE|-")
    again.add_argument("--expires-in", type=float)
    again.add_argument("--workspace", default="default")
    again.set_defaults(run=_reconnect)

    off = actions.add_parser("disconnect", help="stop posting for an account; its queued posts are held")
    off.add_argument("name")
    off.add_argument("--reason", default="by_request")
    off.add_argument("--workspace", default="default")
    off.set_defaults(run=_disconnect)


def _accounts() -> AccountService:
    from infrastructure.bootstrap import bootstrap

    return bootstrap().accounts


def _read_credentials(source: str) -> dict[str, Any]:
    import orjson

    try:
        raw = sys.stdin.buffer.read() if source == "-" else open(source, "rb").read()  # noqa: SIM115
        value = orjson.loads(raw)
    except OSError as problem:
        raise BadCredentials(f"cannot read {source}: {problem.strerror}") from None
    except orjson.JSONDecodeError:
        raise BadCredentials("credentials must be a JSON object") from None
    if not isinstance(value, dict) or not value:
        raise BadCredentials("credentials must be a non-empty JSON object")
    return value


def _expiry(accounts: AccountService, seconds: float | None) -> Any:
    return accounts.clock() + timedelta(seconds=seconds) if seconds else None


def _add(args: argparse.Namespace) -> int:
    from services.account_service import DEFAULT_BASE_URLS

    accounts = _accounts()
    credentials = _read_credentials(args.credentials)
    platform = Platform(args.platform)
    base_url = (args.base_url or DEFAULT_BASE_URLS.get(platform, "")).rstrip("/")
    settings: dict[str, Any] = {"quota_limit": args.quota_limit} if args.quota_limit else {}
    if args.approval:
        settings["approval"] = 1
    user_id = args.user_id
    if platform is Platform.BLUESKY and "app_password" in credentials:
        session = asyncio.run(_bluesky_login(base_url, credentials))
        credentials, user_id = {k: session[k] for k in ("access_jwt", "refresh_jwt")}, session["did"]
    if platform is Platform.MASTODON:
        if not base_url:
            raise HeraldError("Mastodon accounts need --base-url (the instance's address)", field="base_url")
        settings |= asyncio.run(_instance_limits(base_url))
    if not user_id:
        raise HeraldError("give --user-id (the platform's id for this account)", field="user_id")
    accounts.connect(
        name=args.name,
        platform=platform,
        handle=args.handle,
        remote_user_id=user_id,
        credentials=credentials,
        token_expires_at=_expiry(accounts, args.expires_in),
        base_url=base_url or None,
        settings=settings,
        workspace=args.workspace,
    )
    return _print(accounts.get(args.workspace, args.name), as_json=False)


async def _bluesky_login(base_url: str, credentials: dict[str, Any]) -> dict[str, str]:
    from infrastructure.platforms.adapters.bluesky import BlueskyAdapter
    from infrastructure.platforms.http import Http
    from infrastructure.targets import outbound_session

    async with outbound_session() as session:
        adapter = BlueskyAdapter(Http(session))
        return await adapter.login(base_url, str(credentials["identifier"]), str(credentials["app_password"]))


async def _instance_limits(base_url: str) -> dict[str, Any]:
    from infrastructure.platforms.adapters.mastodon import MastodonAdapter
    from infrastructure.platforms.http import Http
    from infrastructure.targets import outbound_session
    from services.ports import AccountAccess

    async with outbound_session() as session:
        adapter = MastodonAdapter(Http(session))
        probe = AccountAccess("", "", Platform.MASTODON, "", "", base_url, {})
        try:
            limits = await adapter.instance_limits(probe)
        except LookupError as problem:
            raise HeraldError(f"could not read the instance's limits: {problem}", field="base_url") from None
    return {"max_characters": limits.get("max_characters", 500)}


def _list(args: argparse.Namespace) -> int:
    import orjson
    from rich.table import Table

    from infrastructure.cli.render import out

    views = _accounts().all(args.workspace)
    if args.json:
        print(orjson.dumps([v.model_dump(mode="json") for v in views], option=orjson.OPT_INDENT_2).decode())
        return 0
    table = Table(title="accounts")
    for column in ("workspace", "name", "platform", "handle", "state", "token expires", "why"):
        table.add_column(column)
    for v in views:
        expires = v.token_expires_at.isoformat() if v.token_expires_at else ""
        table.add_row(v.workspace, v.name, v.platform, v.handle, v.state, expires, v.disconnect_reason or "")
    out.print(table)
    return 0


def _show(args: argparse.Namespace) -> int:
    return _print(_accounts().get(args.workspace, args.name), as_json=args.json)


def _reconnect(args: argparse.Namespace) -> int:
    accounts = _accounts()
    accounts.reconnect(
        args.workspace, args.name, _read_credentials(args.credentials), _expiry(accounts, args.expires_in)
    )
    return _print(accounts.get(args.workspace, args.name), as_json=False)


def _disconnect(args: argparse.Namespace) -> int:
    accounts = _accounts()
    accounts.disconnect(args.workspace, args.name, args.reason, "Reconnect it with herald accounts reconnect.")
    return _print(accounts.get(args.workspace, args.name), as_json=False)


def _print(view: Any, *, as_json: bool) -> int:
    import orjson

    from infrastructure.cli.render import out

    body = view.model_dump(mode="json")
    if as_json:
        print(orjson.dumps(body, option=orjson.OPT_INDENT_2).decode())
    else:
        for key, value in body.items():
            out.print(f"[bold]{key:18}[/bold] {value}")
    return 0
