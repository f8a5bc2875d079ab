"""Logs: structlog renders every line, Herald's own and the libraries', one format per process.

`HERALD_LOG_FORMAT=json` writes one JSON object per line (for a log shipper); otherwise lines
read well in a terminal. `HERALD_LOG_LEVEL` (debug, info, warning, error) sets how much.

The services log through the standard library with `extra=` fields, so they need no logging
library: a line about a post carries `post_id`, `workspace`, `account`, `attempt` and
`request_id` (`domain.intent.PublishIntent.log_fields`). The API binds each request's id to
the context (`bind_request`), so every line logged while it is handled carries it too.

A line runs structlog's processors and renderer, but not through its `ProcessorFormatter`:
that one copies every record for other handlers (there are none) and reads the whole context
for bound variables, and the dispatcher logs each attempt: `Lines` costs a third less.
"""

from __future__ import annotations

import logging
import os
from contextvars import ContextVar
from typing import Any

import orjson
import structlog

from domain.errors import HeraldError

FORMATS = ("console", "json")
LEVELS = ("debug", "info", "warning", "error")
REQUEST_ID: ContextVar[str | None] = ContextVar("herald_request_id", default=None)


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
        _request_id,
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
    formatter = Lines([*shared, structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer])
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


class Lines(logging.Formatter):
    """A record as one line: an event dict (message, exception, the record for the processors
    that read it) through structlog's `processors`, the last of which renders it."""

    def __init__(self, processors: list[Any]) -> None:
        super().__init__()
        self.processors = processors

    def format(self, record: logging.LogRecord) -> str:
        line: Any = {"event": record.getMessage(), "_record": record, "_from_structlog": False}
        if record.exc_info:
            line["exc_info"] = record.exc_info
        if record.stack_info:
            line["stack_info"] = record.stack_info
        level = record.levelname.lower()
        for processor in self.processors:
            line = processor(None, level, line)
        return str(line)


def _request_id(_: Any, __: str, line: dict[str, Any]) -> dict[str, Any]:
    """The request being handled, if any, unless the line names its own."""
    request_id = REQUEST_ID.get()
    if request_id is not None:
        line.setdefault("request_id", request_id)
    return line


def bind_request(request_id: str) -> None:
    """Every line logged from here on in this task carries `request_id`."""
    REQUEST_ID.set(request_id)


def unbind_request() -> None:
    REQUEST_ID.set(None)


def _dumps(value: Any, **_: Any) -> str:
    return orjson.dumps(value, default=str).decode()
