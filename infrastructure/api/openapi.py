"""The OpenAPI 3.1 document, generated from the route table and its pydantic models."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from domain.platform import Platform
from domain.post import PostState
from infrastructure.api.models import ErrorOut, PostOut

ERRORS = {
    "400": "malformed: not JSON, a missing Idempotency-Key, a query parameter unknown or not of its shape",
    "401": "missing or bad API key",
    "403": "the key lacks the scope",
    "404": "no such thing in this workspace",
    "409": "conflicts with the post's state, or the idempotency key is in flight",
    "412": "If-Match does not match the post's version",
    "408": "the request's head or body did not arrive in time (the connection is closed)",
    "413": "body larger than 1 MiB",
    "422": "well formed but refused (content, instants, a cursor never given); every problem listed",
    "428": "If-Match is required",
    "429": "rate limited; see Retry-After",
    "431": "a header line over 8 KB",
    "503": "the store is unavailable",
}
COMMON_HEADERS: dict[str, Any] = {
    **{name: {"schema": {"type": "integer"}} for name in ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset")},
    "RateLimit-Policy": {"schema": {"type": "string"}, "description": "the limit these numbers describe"},
    "X-Request-Id": {"schema": {"type": "string"}, "description": "yours if you sent a sane one, else ours"},
}
STATES = [state.value for state in PostState]
PLATFORMS = [platform.value for platform in Platform]
QUERY: dict[str, dict[str, Any]] = {
    "status": {"type": "string", "enum": STATES},
    "platform": {"type": "string", "enum": PLATFORMS},
    "limit": {"type": "integer", "minimum": 1, "maximum": 100},
    "scheduled_from": {"type": "string", "format": "date-time"},
    "scheduled_to": {"type": "string", "format": "date-time"},
    "cursor": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,40}={0,2}$", "description": "a next_cursor, as given"},
    "dry_run": {"type": "string", "enum": ["true", "false"], "description": "check and report; write nothing"},
    "partial": {"type": "string", "enum": ["true", "false"], "description": "commit the good rows, skip the bad"},
    "reason": {"type": "string", "maxLength": 100, "pattern": "^[a-z_]+$", "description": "a failure's reason"},
    "since": {"type": "string", "format": "date-time", "description": "failed at or after this instant"},
}
ROWS = {  # what an import takes: a CSV file with a header row, or a JSON list of row objects
    "text/csv": {"schema": {"type": "string", "description": "a header row, then one post per line"}},
    "application/json": {"schema": {"type": "array", "items": {"type": "object"}, "maxItems": 10000}},
}
CLEAN_QUERY = {"type": "string", "maxLength": 200, "pattern": "^[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f]*$"}
VERSION = r'^(W/)?"?[0-9]+"?$'


def _link(operation: str, **parameters: str) -> dict[str, Any]:
    return {
        "operationId": operation,
        "parameters": {"path.workspace_id": "$request.path.workspace_id", **parameters},
    }


_POST = {"path.post_id": "$response.body#/id"}
_ACCOUNT = {"path.name": "$response.body#/name"}
_ENDPOINT = {"path.endpoint_id": "$response.body#/endpoint_id"}
_RULE = {"path.rule_id": "$response.body#/id"}
_POOL = {"path.pool_id": "$response.body#/id"}
_MEDIA = {"path.media_id": "$response.body#/id"}
# How one answer leads to the next request (OpenAPI links): stateful tests follow them, and
# a client can read from them where a new resource lives and what it can do next.
LINKS: dict[tuple[str, int], dict[str, Any]] = {
    ("posts_create", 201): {
        "ReadPost": _link("posts_get_post", **_POST),
        "RevisePost": _link("posts_patch_post", **_POST, **{"header.If-Match": "$response.header.ETag"}),
        "CancelPost": _link("posts_cancel_post", **_POST),
        "PostTimeline": _link("posts_timeline", **_POST),
        "SettlePost": _link("posts_settle", **_POST),
        "ScheduleDraft": _link("posts_schedule_draft", **_POST),
        "RedrivePost": _link("posts_redrive", **_POST),
        "ApprovePost": _link("posts_approve", **_POST),
        "RejectPost": _link("posts_reject", **_POST),
    },
    ("posts_patch_post", 200): {
        "ReadRevised": _link("posts_get_post", **_POST),
        "ReviseAgain": _link("posts_patch_post", **_POST, **{"header.If-Match": "$response.header.ETag"}),
    },
    ("posts_cancel_post", 200): {
        "ReadCanceled": _link("posts_get_post", **_POST),
        "CanceledTimeline": _link("posts_timeline", **_POST),
    },
    ("accounts_connect", 201): {
        "ReadAccount": _link("accounts_get_account", **_ACCOUNT),
        "ReconnectAccount": _link("accounts_reconnect", **_ACCOUNT),
        "DisconnectAccount": _link("accounts_disconnect", **_ACCOUNT),
    },
    ("rules_create", 201): {
        "ReadRule": _link("rules_get_rule", **_RULE),
        "PauseRule": _link("rules_pause", **_RULE),
        "ResumeRule": _link("rules_resume", **_RULE),
        "DeleteRule": _link("rules_delete", **_RULE),
        "EditRule": _link("rules_edit", **_RULE),
    },
    ("evergreen_create", 201): {
        "ReadPool": _link("evergreen_get_pool", **_POOL),
        "PausePool": _link("evergreen_pause", **_POOL),
        "ResumePool": _link("evergreen_resume", **_POOL),
        "DeletePool": _link("evergreen_delete", **_POOL),
    },
    ("media_add", 201): {
        "ReadMedia": _link("media_get_media", **_MEDIA),
        "DescribeMedia": _link("media_describe", **_MEDIA),
        "DeleteMedia": _link("media_delete", **_MEDIA),
    },
    ("webhooks_add_endpoint", 201): {
        "ReadEndpoint": _link("webhooks_get_endpoint", **_ENDPOINT),
        "RemoveEndpoint": _link("webhooks_remove_endpoint", **_ENDPOINT),
    },
}


def answer_headers(status: int, model: type[BaseModel]) -> dict[str, Any]:
    headers = dict(COMMON_HEADERS)
    if status == 201:
        headers["Location"] = {"schema": {"type": "string"}, "description": "where the new resource is read"}
    if model is PostOut:
        headers["ETag"] = {"schema": {"type": "string"}, "description": "the post's version, for If-Match"}
    return headers


def document(routes: list[Any]) -> dict[str, Any]:
    wanted: set[tuple[type[BaseModel], str]] = {(ErrorOut, "serialization")}
    for route in routes:
        wanted |= {(model, "serialization") for model in route.answers.values()}
        if route.body is not None:
            wanted.add((route.body, "validation"))
    ordered = sorted(wanted, key=lambda pair: (pair[0].__name__, pair[1]))
    refs, defs = models_json_schema(ordered, ref_template="#/components/schemas/{model}")  # type: ignore[arg-type]
    paths: dict[str, Any] = {}
    for route in routes:
        operation: dict[str, Any] = {
            "summary": route.summary,
            **({"description": route.description} if route.description else {}),
            "operationId": route.handler.__module__.rsplit(".", 1)[-1] + "_" + route.handler.__name__,
            "parameters": [
                {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                for name in re.findall(r"{(\w+)}", route.path)
            ]
            + [
                {"name": name, "in": "query", "required": False, "schema": QUERY.get(name, CLEAN_QUERY)}
                for name in route.query
            ],
            "responses": {
                str(status): {
                    "description": "OK",
                    "headers": answer_headers(status, model),
                    "content": {"application/json": {"schema": refs[(model, "serialization")]}},
                }
                for status, model in route.answers.items()
            },
        }
        for (source, status), links in LINKS.items():
            if source == operation["operationId"]:
                operation["responses"][str(status)]["links"] = links
        for code, why in ERRORS.items():
            operation["responses"][code] = {
                "description": why,
                "headers": COMMON_HEADERS,
                "content": {"application/json": {"schema": refs[(ErrorOut, "serialization")]}},
            }
        if route.method == "POST":
            operation["parameters"].append(
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": True,
                    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"\S"},
                }
            )
        if route.method == "PATCH" and "{post_id}" in route.path:
            operation["parameters"].append(
                {
                    "name": "If-Match",
                    "in": "header",
                    "required": True,
                    "schema": {"type": "string", "minLength": 1, "pattern": VERSION},
                    "description": "the post's version, as its ETag gave it",
                }
            )
        if route.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": refs[(route.body, "validation")]}},
            }
        elif route.rows:
            operation["requestBody"] = {"required": True, "content": ROWS}
        paths.setdefault(route.path, {})[route.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "Herald", "version": "1", "description": "Publish each post exactly once, on time."},
        "paths": paths,
        "components": {
            "schemas": defs.get("$defs", {}),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }
