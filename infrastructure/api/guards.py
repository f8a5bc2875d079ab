"""What every request passes before its handler: authentication confined to one workspace,
scopes, and idempotency for every POST (Stripe's semantics, the IETF Idempotency-Key draft).
The records behind them are in `infrastructure/persistence/`.

Idempotency, as Stripe does it: an answer is kept only once the endpoint has executed and
succeeded (2xx). A refusal (authentication, scope, validation, rate limit, a conflict with a
request still in flight, or any other 4xx) wrote nothing, so nothing is kept and a retry with
the same key is judged afresh: a corrected body goes through, a rate-limited request goes
through once the window has passed. Bodies are compared as parsed JSON, not as bytes.

A route that records the key with what it saves (`joins`: a post's creation, on PostgreSQL)
is not begun here. The handler saves its post with the key and its rate count in one
transaction (`services/joined_writes.py`), and the key's record holds its answer already:
the post, as that save left it (`PostAnswer`), which `recall` renders on a replay. If another
request recorded the key first, that save was rolled back (`KeyTaken`): the key is looked up
as for any other route, and the first answer replayed."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler

from infrastructure.api.errors import ApiError
from infrastructure.api.keys import BODY_LIMIT, CALLER, KEY_CLAIM
from infrastructure.api.server import read_body
from infrastructure.persistence.idempotency import IdempotencyStore, KeyTaken, PostAnswer
from services.joined_writes import JoinedWrite
from services.workspace_service import Caller, WorkspaceService


def workspace_of(request: web.Request) -> str:
    return str(request[CALLER].workspace_id)


async def identify(workspaces: WorkspaceService, request: web.Request) -> Caller:
    """Who is calling: the key's workspace and scopes, or a 401."""
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        raise ApiError(401, "unauthenticated", "send Authorization: Bearer <api key>", "Authorization")
    key = header.removeprefix("Bearer ").strip()
    known = workspaces.remembered(key)
    return known if known is not None else await asyncio.to_thread(workspaces.authenticate, key)


def confine(caller: Caller, request: web.Request) -> None:
    """The caller may only reach its own workspace, within its key's scopes."""
    wanted = request.match_info.get("workspace_id")
    if wanted is not None and wanted != str(caller.workspace_id):
        # another workspace's data does not exist, as far as this key can tell
        if "post_id" in request.match_info:
            raise ApiError(404, "post_not_found", f"no post with id {request.match_info['post_id']}", "post_id")
        raise ApiError(404, "workspace_not_found", f"no workspace {wanted}", "workspace_id")
    needed = "read" if request.method in ("GET", "HEAD") else "write"
    if request.method == "POST" and request.path.endswith(("/approve", "/reject")):
        needed = "approve"  # an approver's decision, not the author's
    if needed not in caller.scopes:
        raise ApiError(403, "forbidden_scope", f"this key lacks the {needed!r} scope", "Authorization")


@dataclass
class KeyClaim:
    """A request's idempotency key, for its handler to record with its save."""

    store: IdempotencyStore
    workspace: str
    key: str
    request_hash: str
    recall: Callable[[PostAnswer], str]  # a created post's answer, rendered again for a replay
    begun: bool = False  # recorded apart, before the handler ran: nothing to join
    answered: bool = False  # recorded with its answer by the save: nothing to finish

    def joined(self, post_id: UUID, status: int = 201) -> list[JoinedWrite]:
        """The key's record, to save with the post `post_id` that the handler creates."""
        if self.begun:
            return []
        return [self.store.joined(self.workspace, self.key, self.request_hash, post_id, status, self._answered)]

    def _answered(self) -> None:
        self.answered = True


async def idempotent(
    store: IdempotencyStore,
    request: web.Request,
    handler: Handler,
    recall: Callable[[PostAnswer], str],
    joins: Callable[[Any], bool] | None = None,
) -> web.StreamResponse:
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key:
        raise ApiError(400, "idempotency_key_missing", "every POST needs an Idempotency-Key header", "Idempotency-Key")
    if len(key) > 255:
        raise ApiError(
            400, "idempotency_key_invalid", "an Idempotency-Key has at most 255 characters", "Idempotency-Key"
        )
    raw = await read_body(request, limit=request.app[BODY_LIMIT])
    # the query counts: /plans/import?dry_run=true is not the same request as without it
    request_hash = hashlib.sha256(request.method.encode() + b" " + request.path_qs.encode() + b"\n" + canonical(raw))
    claim = KeyClaim(store, workspace_of(request), key, request_hash.hexdigest(), recall)
    recorded_apart = joins is None or not joins(parsed_json(raw))
    if recorded_apart and (replayed := await begun(claim)) is not None:
        return replayed
    request[KEY_CLAIM] = claim
    try:
        try:
            response = await handler(request)
        except KeyTaken:  # another request recorded the key first: its save was rolled back
            if (replayed := await begun(claim)) is not None:
                return replayed
            response = await handler(request)  # the first was refused meanwhile: ours, recorded apart
    except BaseException:
        if claim.begun:
            await asyncio.to_thread(store.abandon, claim.workspace, key)
        raise
    if claim.answered and not claim.begun:  # kept with the post it created
        return response
    if isinstance(response, web.Response) and 200 <= response.status < 300:
        body = response.text or ""
        await asyncio.to_thread(store.finish, claim.workspace, key, response.status, body)
    elif claim.begun:  # refused: nothing was written, so nothing is kept; a retry is judged afresh
        await asyncio.to_thread(store.abandon, claim.workspace, key)
    return response


async def begun(claim: KeyClaim) -> web.Response | None:
    """Record the key in flight, apart; or the answer to replay (raises while it is in flight)."""
    stored = await asyncio.to_thread(claim.store.begin, claim.workspace, claim.key, claim.request_hash)
    if stored is None:
        claim.begun = True
        return None
    status, body = stored
    if isinstance(body, PostAnswer):
        body = await asyncio.to_thread(claim.recall, body)
    return web.Response(
        text=body, status=status, content_type="application/json", headers={"Idempotent-Replayed": "true"}
    )


NOT_JSON: Any = object()


def parsed_json(raw: bytes) -> Any:
    """The body parsed, or NOT_JSON."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return NOT_JSON


def canonical(raw: bytes) -> bytes:
    """The body as compared between a request and its retry: JSON re-serialised with sorted
    keys and no spacing (a client that re-encodes the same object sends the same request);
    anything that is not JSON, byte for byte."""
    parsed = parsed_json(raw)
    return raw if parsed is NOT_JSON else orjson.dumps(parsed, option=orjson.OPT_SORT_KEYS)


async def json_of(request: web.Request, *, empty: Any = None) -> Any:
    """The request's body, parsed as JSON (cut off with a 408 if it stops arriving); `empty`
    stands for a body that was not sent, where a route allows that."""
    raw = await read_body(request)
    if not raw.strip() and empty is not None:
        return empty
    return body_json(raw)


def body_json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as problem:
        raise ApiError(400, "invalid_json", f"the body is not JSON: {problem}", "body") from None
