"""What every request passes before its handler: authentication confined to one workspace,
scopes, idempotency for every POST (Stripe's semantics, the IETF Idempotency-Key draft), and
the per-workspace creation rate limit."""

from __future__ import annotations

import asyncio
import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
from aiohttp import web

from domain.errors import HeraldError
from infrastructure.api.errors import ApiError, json_response
from infrastructure.api.keys import CALLER
from projections.read_store import ReadStore
from services.post_service import Clock
from services.workspace_service import Caller, WorkspaceService

IN_FLIGHT_FOR = timedelta(seconds=60)  # an in-flight record older than this is treated as abandoned
KEEP_FOR = timedelta(hours=48)  # responses are replayed for at least 24 hours


def workspace_of(request: web.Request) -> str:
    return str(request[CALLER].workspace_id)


async def authenticate(workspaces: WorkspaceService, request: web.Request) -> Caller:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        raise ApiError(401, "unauthenticated", "send Authorization: Bearer <api key>", "Authorization")
    caller = await asyncio.to_thread(workspaces.authenticate, header.removeprefix("Bearer ").strip())
    wanted = request.match_info.get("workspace_id")
    if wanted is not None and wanted != str(caller.workspace_id):
        # another workspace's data does not exist, as far as this key can tell
        if "post_id" in request.match_info:
            raise ApiError(404, "post_not_found", f"no post with id {request.match_info['post_id']}", "post_id")
        raise ApiError(404, "workspace_not_found", f"no workspace {wanted}", "workspace_id")
    needed = "read" if request.method in ("GET", "HEAD") else "write"
    if needed not in caller.scopes:
        raise ApiError(403, "forbidden_scope", f"this key lacks the {needed!r} scope", "Authorization")
    return caller


class IdempotencyStore:
    """(workspace, key) → the first request's hash and its stored response.

    Stored responses are sealed when a secret key is configured: a first answer may carry a
    secret shown once (a webhook endpoint's signing secret), and no secret is kept in plain text.
    """

    def __init__(self, store: ReadStore, clock: Clock, sealer: Callable[[], Any] | None = None) -> None:
        self.store = store
        self.clock = clock
        self._sealer = sealer
        with store.transaction() as cursor:
            cursor.execute(
                "CREATE TABLE IF NOT EXISTS api_idempotency (workspace TEXT NOT NULL, key TEXT NOT NULL,"
                " request_hash TEXT NOT NULL, status INTEGER, body TEXT, created_at TEXT NOT NULL,"
                " PRIMARY KEY (workspace, key))"
            )

    def begin(self, workspace: str, key: str, request_hash: str) -> tuple[int, str] | None:
        """None: go ahead (the key is now in flight). Else the stored (status, body) to replay."""
        now = self.clock()
        with self.store.transaction() as cursor:
            cursor.execute(
                "SELECT request_hash, status, body, created_at FROM api_idempotency WHERE workspace = %s AND key = %s",
                [workspace, key],
            )
            found = cursor.fetchone()
            if found is not None:
                stored_hash, status, body, created = found
                age = now - datetime.fromisoformat(created)
                if age > KEEP_FOR or (status is None and age > IN_FLIGHT_FOR):
                    cursor.execute("DELETE FROM api_idempotency WHERE workspace = %s AND key = %s", [workspace, key])
                elif stored_hash != request_hash:
                    raise ApiError(
                        422,
                        "idempotency_key_reused",
                        "this Idempotency-Key was used with a different request",
                        "Idempotency-Key",
                    )
                elif status is None:
                    raise ApiError(
                        409,
                        "idempotency_key_in_use",
                        "the first request with this Idempotency-Key is still in flight",
                        "Idempotency-Key",
                    )
                else:
                    return int(status), self._open(str(body), workspace, key)
            cursor.execute(
                "INSERT INTO api_idempotency (workspace, key, request_hash, created_at) VALUES (%s, %s, %s, %s)",
                [workspace, key, request_hash, now.isoformat()],
            )
        return None

    def _seal(self, body: str, workspace: str, key: str) -> str:
        try:
            sealer = self._sealer() if self._sealer else None
        except HeraldError:
            sealer = None  # no key configured: then no answer can carry a secret either
        return "sealed:" + sealer.seal({"body": body}, f"{workspace}/{key}") if sealer else body

    def _open(self, body: str, workspace: str, key: str) -> str:
        if not body.startswith("sealed:") or self._sealer is None:
            return body
        return str(self._sealer().open(body.removeprefix("sealed:"), f"{workspace}/{key}")["body"])

    def finish(self, workspace: str, key: str, status: int, body: str) -> None:
        body = self._seal(body, workspace, key)
        with self.store.transaction() as cursor:
            cursor.execute(
                "UPDATE api_idempotency SET status = %s, body = %s WHERE workspace = %s AND key = %s",
                [status, body, workspace, key],
            )

    def abandon(self, workspace: str, key: str) -> None:
        """A server error is not an answer to keep: the client may retry with the same key."""
        with self.store.transaction() as cursor:
            cursor.execute("DELETE FROM api_idempotency WHERE workspace = %s AND key = %s", [workspace, key])


async def idempotent(store: IdempotencyStore, request: web.Request, handler: Any) -> web.StreamResponse:
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key:
        raise ApiError(400, "idempotency_key_missing", "every POST needs an Idempotency-Key header", "Idempotency-Key")
    if len(key) > 255:
        raise ApiError(
            400, "idempotency_key_invalid", "an Idempotency-Key has at most 255 characters", "Idempotency-Key"
        )
    raw = await request.read()
    request_hash = hashlib.sha256(request.method.encode() + b" " + request.path.encode() + b"\n" + raw).hexdigest()
    workspace = workspace_of(request)
    stored = await asyncio.to_thread(store.begin, workspace, key, request_hash)
    if stored is not None:
        status, body = stored
        return web.Response(
            text=body, status=status, content_type="application/json", headers={"Idempotent-Replayed": "true"}
        )
    try:
        response = await handler(request)
    except BaseException:
        await asyncio.to_thread(store.abandon, workspace, key)
        raise
    if isinstance(response, web.Response) and response.status < 500:
        body = response.text or ""
        await asyncio.to_thread(store.finish, workspace, key, response.status, body)
    else:
        await asyncio.to_thread(store.abandon, workspace, key)
    return response


@dataclass
class RateLimiter:
    """Creations per workspace per minute, in fixed one-minute windows counted in the database,
    so any number of API processes share one limit."""

    limit: int
    clock: Clock
    store: ReadStore | None = None
    seen: dict[tuple[str, int], int] = field(default_factory=dict)  # last counts this process saw

    def __post_init__(self) -> None:
        if self.store is not None:
            with self.store.transaction() as cursor:
                cursor.execute(
                    "CREATE TABLE IF NOT EXISTS api_rate (workspace TEXT NOT NULL, minute BIGINT NOT NULL,"
                    " used INTEGER NOT NULL, PRIMARY KEY (workspace, minute))"
                )

    def _window(self) -> tuple[int, float]:
        now = self.clock().timestamp()
        start = int(now // 60)
        return start, (start + 1) * 60 - now

    def headers(self, workspace: str) -> dict[str, str]:
        start, left = self._window()
        used = self.seen.get((workspace, start), 0)
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(max(0, self.limit - used)),
            "RateLimit-Reset": str(math.ceil(left)),
        }

    def take(self, workspace: str) -> None:
        """Count one creation, or refuse it with 429 when the window is spent (blocking: call in a thread)."""
        start, left = self._window()
        used = self._count(workspace, start)
        self.seen = {k: v for k, v in self.seen.items() if k[1] >= start}
        self.seen[(workspace, start)] = min(used, self.limit)
        if used > self.limit:
            raise ApiError(
                429,
                "rate_limited",
                f"at most {self.limit} posts may be created a minute",
                None,
                retry_after=math.ceil(left),
            )

    def _count(self, workspace: str, start: int) -> int:
        if self.store is None:
            return self.seen.get((workspace, start), 0) + 1
        with self.store.transaction() as cursor:
            cursor.execute(
                "INSERT INTO api_rate (workspace, minute, used) VALUES (%s, %s, 1) ON CONFLICT (workspace, minute)"
                " DO UPDATE SET used = api_rate.used + 1 RETURNING used",
                [workspace, start],
            )
            used = int(cursor.fetchone()[0])
            cursor.execute("DELETE FROM api_rate WHERE minute < %s", [start - 1])
        return used


def body_json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as problem:
        raise ApiError(400, "invalid_json", f"the body is not JSON: {problem}", "body") from None


__all__ = ["json_response"]
