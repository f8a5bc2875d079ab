"""The API application: the middlewares every request passes (JSON errors, authentication
confined to the workspace, idempotency for POSTs, the rate-limit headers) around the one
route table in routes.py, which the OpenAPI document is generated from."""

from __future__ import annotations

import functools
import re
import uuid

import orjson
from aiohttp import web
from pydantic import ValidationError

from domain.errors import HeraldError
from infrastructure.api import media, posts, webhooks
from infrastructure.api.context import Context
from infrastructure.api.errors import errors_as_json, http_error_response, json_response, refusal_response
from infrastructure.api.guards import confine, idempotent, identify
from infrastructure.api.health import READINESS, Readiness, healthz, readyz
from infrastructure.api.keys import BODY_LIMIT, CALLER, CTX, OPENAPI, REQUEST_ID
from infrastructure.api.openapi import document
from infrastructure.api.routes import JOINS, LOCATIONS, ROUTES, Handler
from infrastructure.console import add_console
from infrastructure.logs import bind_request, unbind_request
from infrastructure.metrics import measured, metrics_page
from infrastructure.persistence.rate_limit import RateLimited

INBOUND = "/v1/inbound/{source}"
CONSOLE = "/console"
MEDIA_FILES = "/media/{token}"  # public: the signed token is the permission
PUBLIC = {"/v1/openapi.json", "/healthz", "/readyz", "/metrics"}  # /metrics checks its own token


REQUEST_ID_SHAPE = re.compile(r"[A-Za-z0-9._:-]{1,128}")


@web.middleware
async def request_id(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every answer carries X-Request-Id: the client's own (if it is a sane token), else a new one."""
    given = request.headers.get("X-Request-Id", "")
    request[REQUEST_ID] = given if REQUEST_ID_SHAPE.fullmatch(given) else uuid.uuid4().hex
    bind_request(request[REQUEST_ID])  # every line logged while it is handled carries it
    try:
        response = await handler(request)
    finally:
        unbind_request()
    response.headers["X-Request-Id"] = request[REQUEST_ID]
    return response


@web.middleware
async def guarded(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Authentication, scopes and workspace, idempotency, rate-limit headers on every answer.

    A stranger's answers (a 401, or a 404 or 405 on a route that does not exist) carry the
    failed-authentication policy's headers; a caller's carry its workspace's."""
    resource = request.match_info.route.resource
    if request.path == CONSOLE or request.path.startswith(CONSOLE + "/"):
        return await handler(request)  # the console signs in with its own session (console/pages.py)
    if request.path in PUBLIC or (resource is not None and resource.canonical in (INBOUND, MEDIA_FILES)):
        return await handler(request)
    ctx: Context = request.app[CTX]
    address = request.remote or "unknown"
    try:
        ctx.strangers.check(address)
        caller = await identify(ctx.workspaces, request)
    except HeraldError as refusal:
        if resource is None and not isinstance(refusal, RateLimited):
            response: web.StreamResponse = http_error_response(request.match_info.http_exception or web.HTTPNotFound())
        else:
            if not isinstance(refusal, RateLimited):
                ctx.strangers.failed(address)
            response = refusal_response(refusal)
        response.headers.update(ctx.strangers.headers(address))
        return response
    request[CALLER] = caller

    async def answered(request: web.Request) -> web.StreamResponse:
        """The handler's answer, refusals included."""
        try:
            return await handler(request)
        except (HeraldError, ValidationError) as refusal:
            return refusal_response(refusal)
        except web.HTTPException as http:
            return http_error_response(http)

    try:
        confine(caller, request)
        joins = JOINS.get((request.method, resource.canonical)) if ctx.joins_writes and resource else None
        response = await (
            idempotent(ctx.idempotency, request, answered, functools.partial(posts.recalled, ctx), joins)
            if request.method == "POST" and resource is not None
            else answered(request)
        )
    except HeraldError as refusal:  # confinement's and the idempotency guard's own refusals
        response = refusal_response(refusal)
    response.headers.update(ctx.limiter.headers(str(caller.workspace_id)))
    if response.status == 201 and isinstance(response, web.Response) and "Location" not in response.headers:
        located = LOCATIONS.get((request.method, resource.canonical if resource else ""))
        if located is not None:
            response.headers["Location"] = located(request, orjson.loads(response.body or b"{}"))  # type: ignore[arg-type]
    return response


async def openapi(request: web.Request) -> web.Response:
    return json_response(request.app[OPENAPI])


def make_app(ctx: Context, readiness: Readiness | None = None) -> web.Application:
    largest = media.MEDIA_MAX + 64 * 1024  # a file with its multipart envelope; JSON bodies stop at 1 MiB
    app = web.Application(middlewares=[measured, request_id, errors_as_json, guarded], client_max_size=largest)
    app[CTX] = ctx
    app[BODY_LIMIT] = largest
    app[OPENAPI] = document(ROUTES)
    if readiness is not None:
        app[READINESS] = readiness
    app.router.add_get("/v1/openapi.json", openapi)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_page)
    add_console(app, ctx)
    app.router.add_post(INBOUND, webhooks.inbound)
    app.router.add_get(MEDIA_FILES, media.serve_file)
    for route in ROUTES:
        # a plan id is a UUID, so /plans/dry-run is never read as one (and its 405 lists POST only)
        path = route.path.replace("{plan_id}", "{plan_id:[0-9A-Fa-f-]{32,36}}")
        app.router.add_route(route.method, path, route.handler)
    return app
