"""GET /healthz (the process answers) and GET /readyz (every part running, the store
reachable, the projections close behind the log): JSON, 503 when not ready. Neither needs a
key nor shows anything of a workspace."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from infrastructure.api.errors import json_response

Readiness = Callable[[], Awaitable[tuple[bool, dict[str, Any]]]]
READINESS: web.AppKey[Readiness] = web.AppKey("readiness")


async def healthz(_: web.Request) -> web.Response:
    return json_response({"alive": True})


async def readyz(request: web.Request) -> web.Response:
    probe = request.app.get(READINESS)
    if probe is None:
        return json_response({"ready": True, "parts": {}})
    ready, body = await probe()
    return json_response({"ready": ready, **body}, 200 if ready else 503)
