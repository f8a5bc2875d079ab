"""The OpenAPI 3.1 document, generated from the route table and its pydantic models."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from infrastructure.api.models import ErrorOut

ERRORS = {
    "400": "malformed request (bad JSON, missing Idempotency-Key)",
    "401": "missing or bad API key",
    "403": "the key lacks the scope",
    "404": "no such thing in this workspace",
    "409": "conflicts with the post's state, or the idempotency key is in flight",
    "412": "If-Match does not match the post's version",
    "413": "body larger than 1 MiB",
    "422": "invalid input; every problem listed",
    "428": "If-Match is required",
    "429": "rate limited; see Retry-After",
    "503": "the store is unavailable",
}
RATE_HEADERS = {
    name: {"schema": {"type": "integer"}} for name in ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset")
}


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
            "operationId": route.handler.__module__.rsplit(".", 1)[-1] + "_" + route.handler.__name__,
            "parameters": [
                {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                for name in re.findall(r"{(\w+)}", route.path)
            ]
            + [{"name": name, "in": "query", "required": False, "schema": {"type": "string"}} for name in route.query],
            "responses": {
                str(status): {
                    "description": "OK",
                    "headers": RATE_HEADERS,
                    "content": {"application/json": {"schema": refs[(model, "serialization")]}},
                }
                for status, model in route.answers.items()
            },
        }
        for status, why in ERRORS.items():
            operation["responses"][status] = {
                "description": why,
                "content": {"application/json": {"schema": refs[(ErrorOut, "serialization")]}},
            }
        if route.method == "POST":
            operation["parameters"].append(
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": True,
                    "schema": {"type": "string", "maxLength": 255},
                }
            )
        if route.method == "PATCH":
            operation["parameters"].append(
                {"name": "If-Match", "in": "header", "required": True, "schema": {"type": "string"}}
            )
        if route.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": refs[(route.body, "validation")]}},
            }
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
