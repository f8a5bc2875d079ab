"""Typed keys for what the API keeps on its application and requests."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from infrastructure.api.context import Context
    from infrastructure.api.guards import KeyClaim
    from services.workspace_service import Caller

CTX: web.AppKey[Context] = web.AppKey("ctx")
OPENAPI: web.AppKey[dict[str, Any]] = web.AppKey("openapi")
CALLER: web.RequestKey[Caller] = web.RequestKey("caller")
REQUEST_ID: web.RequestKey[str] = web.RequestKey("request_id")
BODY_LIMIT: web.AppKey[int] = web.AppKey("body_limit")  # the largest body a route may take
KEY_CLAIM: web.RequestKey[KeyClaim] = web.RequestKey("key_claim")  # a POST's idempotency key (guards.py)
