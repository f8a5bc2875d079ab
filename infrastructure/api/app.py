"""The API application: one route table (which the OpenAPI document is generated from),
and the middlewares every request passes: JSON errors, authentication confined to the
workspace, idempotency for POSTs, and the rate-limit headers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from pydantic import BaseModel, ValidationError

from domain.errors import HeraldError
from infrastructure.api import accounts, plans, posts, webhooks
from infrastructure.api.context import Context
from infrastructure.api.errors import errors_as_json, json_response, refusal_response
from infrastructure.api.guards import authenticate, idempotent, workspace_of
from infrastructure.api.health import READINESS, Readiness, healthz, readyz
from infrastructure.api.keys import CALLER, CTX, OPENAPI
from infrastructure.api.models import (
    AccountList,
    AccountOut,
    AddEndpoint,
    AttentionOut,
    ConnectAccount,
    CreatePost,
    DryRun,
    DryRunOut,
    EndpointList,
    EndpointOut,
    PatchPost,
    PostOut,
    PostPage,
    Reconnect,
    Removed,
    Settle,
    TimelineOut,
)
from infrastructure.api.openapi import document

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
W = "/v1/workspaces/{workspace_id}"
MAX_BODY = 1024 * 1024


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    summary: str
    body: type[BaseModel] | None
    answers: dict[int, type[BaseModel]]
    query: tuple[str, ...] = ()


ROUTES = [
    Route(
        "POST",
        f"{W}/posts",
        posts.create,
        "Create a post: scheduled, draft, or publish-now",
        CreatePost,
        {201: PostOut},
    ),
    Route(
        "GET",
        f"{W}/posts",
        posts.list_posts,
        "List posts, by cursor",
        None,
        {200: PostPage},
        ("status", "account", "platform", "external_id", "scheduled_from", "scheduled_to", "cursor", "limit"),
    ),
    Route("GET", f"{W}/posts/{{post_id}}", posts.get_post, "Read one post", None, {200: PostOut}),
    Route(
        "PATCH",
        f"{W}/posts/{{post_id}}",
        posts.patch_post,
        "Edit or reschedule (If-Match: version)",
        PatchPost,
        {200: PostOut},
    ),
    Route("DELETE", f"{W}/posts/{{post_id}}", posts.delete_post, "Cancel a post", None, {200: PostOut}),
    Route(
        "GET",
        f"{W}/posts/{{post_id}}/timeline",
        posts.timeline,
        "The post's support timeline",
        None,
        {200: TimelineOut},
    ),
    Route(
        "GET",
        f"{W}/attention",
        posts.attention,
        "Posts held, or waiting for support to settle them",
        None,
        {200: AttentionOut},
    ),
    Route(
        "POST",
        f"{W}/posts/{{post_id}}/settle",
        posts.settle,
        "Settle a post the reconciler could not: live (with its remote id) or not",
        Settle,
        {200: PostOut},
    ),
    Route("GET", f"{W}/accounts", accounts.list_accounts, "List accounts", None, {200: AccountList}),
    Route("POST", f"{W}/accounts", accounts.connect, "Connect an account", ConnectAccount, {201: AccountOut}),
    Route("GET", f"{W}/accounts/{{name}}", accounts.get_account, "Read an account", None, {200: AccountOut}),
    Route(
        "POST",
        f"{W}/accounts/{{name}}/reconnect",
        accounts.reconnect,
        "Reconnect an account",
        Reconnect,
        {200: AccountOut},
    ),
    Route(
        "POST",
        f"{W}/accounts/{{name}}/disconnect",
        accounts.disconnect,
        "Disconnect an account",
        None,
        {200: AccountOut},
    ),
    Route(
        "POST", f"{W}/plans/dry-run", plans.dry_run, "Assess planned posts, writing nothing", DryRun, {200: DryRunOut}
    ),
    Route(
        "POST",
        f"{W}/webhooks",
        webhooks.add_endpoint,
        "Register a webhook endpoint (secret shown once)",
        AddEndpoint,
        {201: EndpointOut},
    ),
    Route("GET", f"{W}/webhooks", webhooks.list_endpoints, "List webhook endpoints", None, {200: EndpointList}),
    Route(
        "DELETE",
        f"{W}/webhooks/{{endpoint_id}}",
        webhooks.remove_endpoint,
        "Remove a webhook endpoint",
        None,
        {200: Removed},
    ),
]
INBOUND = "/v1/inbound/{source}"
PUBLIC = {"/v1/openapi.json", "/healthz", "/readyz"}


@web.middleware
async def guarded(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Authentication, scopes and workspace, idempotency, rate-limit headers."""
    resource = request.match_info.route.resource
    if request.path in PUBLIC or resource is None or resource.canonical == INBOUND:
        return await handler(request)
    ctx: Context = request.app[CTX]
    request[CALLER] = await authenticate(ctx.workspaces, request)
    workspace = workspace_of(request)

    async def answered(request: web.Request) -> web.StreamResponse:
        """The handler's answer, refusals included (so a replay repeats a 4xx too)."""
        try:
            return await handler(request)
        except (HeraldError, ValidationError) as refusal:
            return refusal_response(refusal)

    try:
        response = await (
            idempotent(ctx.idempotency, request, answered) if request.method == "POST" else answered(request)
        )
    except HeraldError as refusal:  # the idempotency guard's own refusals
        response = refusal_response(refusal)
    response.headers.update(ctx.limiter.headers(workspace))
    return response


async def openapi(request: web.Request) -> web.Response:
    return json_response(request.app[OPENAPI])


def make_app(ctx: Context, readiness: Readiness | None = None) -> web.Application:
    app = web.Application(middlewares=[errors_as_json, guarded], client_max_size=MAX_BODY)
    app[CTX] = ctx
    app[OPENAPI] = document(ROUTES)
    if readiness is not None:
        app[READINESS] = readiness
    app.router.add_get("/v1/openapi.json", openapi)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_post(INBOUND, webhooks.inbound)
    for route in ROUTES:
        app.router.add_route(route.method, route.path, route.handler)
    return app
