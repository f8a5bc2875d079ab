"""Logs: structlog renders every line, Herald's own and the libraries', one format per process.

`HERALD_LOG_FORMAT=json` writes one JSON object per line (for a log shipper); otherwise lines
read well in a terminal. `HERALD_LOG_LEVEL` (debug, info, warning, error) sets how much.

The services log through the standard library with `extra=` fields, so they need no logging
library: a line about a post carries `post_id`, `workspace`, `account`, `attempt` and
`request_id` (`domain.intent.PublishIntent.log_fields`). The API binds each request's id to
the context (`bind_request`), so every line logged while it is handled carries it too.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import orjson
import structlog

from domain.errors import HeraldError

FORMATS = ("console", "json")
LEVELS = ("debug", "info", "warning", "error")


class InvalidLogSetting(HeraldError):
    code = "invalid_log_setting"
    field = "HERALD_LOG_FORMAT"


def configure(default_level: str = "warning", environ: dict[str, str] | None = None) -> None:
    """Route every `logging` record through structlog's renderer, on stderr."""
    environ = dict(os.environ) if environ is None else environ
    kind = (environ.get("HERALD_LOG_FORMAT") or "console").lower()
    level = (environ.get("HERALD_LOG_LEVEL") or default_level).lower()
    if kind not in FORMATS:
        raise InvalidLogSetting(f"HERALD_LOG_FORMAT={kind!r}: choose {' or '.join(FORMATS)}")
    if level not in LEVELS:
        problem = InvalidLogSetting(f"HERALD_LOG_LEVEL={level!r}: choose one of {', '.join(LEVELS)}")
        problem.field = "HERALD_LOG_LEVEL"
        raise problem
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Any
    if kind == "json":
        renderer = structlog.processors.JSONRenderer(serializer=_dumps)
        shared.append(structlog.processors.format_exc_info)
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback)
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    # no line shows the caller's file, thread or process: not looking them up saves a fifth of
    # a line's cost (the Logging HOWTO's "Optimization"), and the dispatcher logs every attempt
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    handler = logging.StreamHandler()
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)  # the API's own lines say more


def bind_request(request_id: str) -> None:
    """Every line logged from here on in this task carries `request_id`."""
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=request_id)


def unbind_request() -> None:
    structlog.contextvars.clear_contextvars()


def _dumps(value: Any, **_: Any) -> str:
    return orjson.dumps(value, default=str).decode()
