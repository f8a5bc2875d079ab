"""Every error is JSON {code, message, field}; refusals map to statuses here and only here.

Domain and service refusals (`HeraldError`) carry their code and field; `STATUS` gives each
kind its HTTP status. `ApiError` is only for problems of the HTTP request's own shape (a
missing header, a body that is not JSON), and carries its status itself."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler
from pydantic import ValidationError

from domain.errors import (
    AlreadyClaimed,
    ConcurrentChange,
    HeraldError,
    InvalidTransition,
    PostFrozen,
    PostNotFound,
    VersionMismatch,
)
from domain.evergreen import PoolNotFound
from domain.media import MediaInUse, MediaNotFound
from domain.plan import PlanNotFound
from domain.queue import NoFreeSlot, QueueNotFound, QueueOrderMismatch
from domain.quota import QuotaExceeded
from domain.rule import RuleDeleted, RuleNotFound
from domain.validation import ContentInvalid
from domain.workspace import EndpointNotFound
from infrastructure.api.keys import REQUEST_ID
from infrastructure.persistence.idempotency import KeyInUse, KeyReused
from infrastructure.persistence.rate_limit import RateLimited
from infrastructure.store import StoreUnavailable
from services.account_service import AccountExists, AccountNotFound
from services.fanout import PlanIdTaken
from services.webhooks import SignatureInvalid
from services.workspace_service import Unauthenticated, WorkspaceNotFound

log = logging.getLogger("herald.api")

STATUS: list[tuple[type[HeraldError], int]] = [
    (Unauthenticated, 401),
    (SignatureInvalid, 401),
    (PostNotFound, 404),
    (AccountNotFound, 404),
    (EndpointNotFound, 404),
    (WorkspaceNotFound, 404),
    (MediaNotFound, 404),
    (RuleNotFound, 404),
    (PlanNotFound, 404),
    (PoolNotFound, 404),
    (QueueNotFound, 404),
    (NoFreeSlot, 409),
    (QueueOrderMismatch, 409),
    (PlanIdTaken, 409),
    (RuleDeleted, 404),
    (MediaInUse, 409),
    (AccountExists, 409),
    (VersionMismatch, 412),
    (PostFrozen, 409),
    (InvalidTransition, 409),
    (AlreadyClaimed, 409),
    (ConcurrentChange, 409),
    (KeyInUse, 409),
    (KeyReused, 422),
    (RateLimited, 429),
    (StoreUnavailable, 503),
]


class ApiError(HeraldError):
    """A refusal of the HTTP layer itself, carrying its status."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None, **extra: Any) -> None:
        super().__init__(message, field=field)
        self.status = status
        self.code = code
        self.extra = extra


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json", headers=headers)


def error_body(code: str, message: str, field: str | None, **extra: Any) -> dict[str, Any]:
    return {"code": code, "message": message, "field": field, **{k: v for k, v in extra.items() if v is not None}}


def from_refusal(refusal: HeraldError) -> web.Response:
    if isinstance(refusal, ApiError):
        body = error_body(refusal.code, refusal.message, refusal.field, **refusal.extra)
        return closing(json_response(body, refusal.status))
    extra: dict[str, Any] = {}
    if isinstance(refusal, ContentInvalid):
        extra["problems"] = [p.model_dump() for p in refusal.problems]
    if isinstance(refusal, QuotaExceeded):
        extra["next_free"] = refusal.next_free.isoformat()
    headers = {}
    if isinstance(refusal, RateLimited):
        extra["retry_after"] = refusal.retry_after
        headers["Retry-After"] = str(refusal.retry_after)
    status = next((code for kind, code in STATUS if isinstance(refusal, kind)), 422)
    return json_response(error_body(refusal.code, refusal.message, refusal.field, **extra), status, headers)


def closing(answer: web.Response) -> web.Response:
    """A 408 ends the connection: the rest of the request never came."""
    if answer.status == 408:
        answer.force_close()
    return answer


def _path(location: tuple[int | str, ...]) -> str:
    """A field's path as the domain names it: content.media[0].alt_text."""
    path = ""
    for step in location:
        path += f"[{step}]" if isinstance(step, int) else f".{step}" if path else str(step)
    return path or "body"


def from_validation(problem: ValidationError) -> web.Response:
    """A body of the wrong shape: 422, naming the first field at fault (all of them in problems)."""
    errors = problem.errors(include_url=False)
    fields = [_path(e["loc"]) for e in errors]
    first = errors[0]
    code = {"extra_forbidden": "unknown_field", "invalid_characters": "invalid_characters"}.get(
        first["type"], "invalid_field"
    )
    message = "; ".join(f"{f}: {e['msg']}" for f, e in zip(fields, errors, strict=True))[:2000]
    return json_response(error_body(code, message, fields[0]), 422)


def http_error_response(http: web.HTTPException) -> web.Response:
    """aiohttp's own refusals (no such route, a method the route lacks, a body too large) in
    our shape; a 405 says which methods the route has."""
    if isinstance(http, web.HTTPRequestEntityTooLarge):
        answer = json_response(error_body("payload_too_large", "the body is larger than the server takes", "body"), 413)
        answer.force_close()  # the rest of the body is not read
        return answer
    code = {404: "not_found", 405: "method_not_allowed"}.get(http.status, "http_error")
    headers = {}
    if isinstance(http, web.HTTPMethodNotAllowed):
        headers["Allow"] = ", ".join(sorted(http.allowed_methods))
    message = http.reason or code
    if isinstance(http, web.HTTPMethodNotAllowed):
        message = f"{http.method} is not allowed here; the route allows {headers['Allow']}"
    return json_response(error_body(code, message, None), http.status, headers)


def refusal_response(problem: HeraldError | ValidationError) -> web.Response:
    """The answer to a refusal: the one mapping, used wherever a refusal becomes a response."""
    if isinstance(problem, ValidationError):
        return from_validation(problem)
    return from_refusal(problem)


@web.middleware
async def errors_as_json(request: web.Request, handler: Handler) -> web.StreamResponse:
    """No input gets a traceback: refusals become their status, and a bug a logged 500 in JSON."""
    try:
        return await handler(request)
    except (HeraldError, ValidationError) as refusal:
        return refusal_response(refusal)
    except web.HTTPRedirection:
        raise  # a redirect (the console's) is an answer, not a refusal
    except web.HTTPException as http:
        return http_error_response(http)
    except Exception:
        log.exception("unexpected error on %s %s (request %s)", request.method, request.path, request.get(REQUEST_ID))
        return json_response(error_body("internal_error", "an unexpected error; it has been logged", None), 500)
