"""The connection guard: what aiohttp answers before our application sees a request.

aiohttp answers a malformed request (a header over 8 KB, a broken request line) itself, in
`text/plain`; here it answers in our JSON error shape. It also bounds what a slow or greedy
client can hold: a request's head must arrive within `HEAD_SECONDS` of its first byte (a
slow-loris client is cut with a 408), idle connections close after `IDLE_SECONDS`, and one
process serves at most `MAX_CONNECTIONS` at once (the next is told 503 and closed). A body
that stops short of its Content-Length is cut by `read_body` with a 408.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from aiohttp import web
from aiohttp.http_exceptions import LineTooLong
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_server import Server

from infrastructure.api.errors import ApiError, error_body

HEAD_SECONDS = 10.0
BODY_SECONDS = 10.0
IDLE_SECONDS = 15.0
LINGER_SECONDS = 1.0
MAX_CONNECTIONS = 512
MAX_FIELD = 8190  # bytes in one header line (aiohttp's own bound)


def raw_answer(status: int, reason: str, code: str, message: str, field: str | None) -> bytes:
    """A whole HTTP/1.1 answer, for the moments before aiohttp has a request to answer."""
    body = orjson.dumps(error_body(code, message, field))
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


class GuardedHandler(RequestHandler):
    """aiohttp's connection handler, with JSON errors, a head timeout and a connection bound."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.head_started: float | None = None
        self.head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        manager = self._manager
        if manager is not None and len(manager.connections) > MAX_CONNECTIONS:
            self._refuse(503, "Service Unavailable", "too_many_connections", "the server is busy; try again shortly")

    def data_received(self, data: bytes) -> None:
        heads = self._request_count
        super().data_received(data)
        if self._request_count > heads:  # a whole head arrived
            self._disarm()
        elif self.head_started is None and self._current_request is None and not self._messages:
            self.head_started = self._loop.time()  # the first bytes of a head: its clock starts
            self.head_timer = self._loop.call_later(HEAD_SECONDS, self._head_overdue, self.head_started)

    def connection_lost(self, exc: BaseException | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def handle_error(
        self, request: Any, status: int = 500, exc: BaseException | None = None, message: str | None = None
    ) -> web.StreamResponse:
        if request.writer.output_size > 0:  # an answer is already on its way: the connection is broken
            raise ConnectionError("an answer was already being sent")
        if status >= 500:
            self.log_exception("error handling a request from %s", request.remote, exc_info=exc)
        else:  # a client's malformed request: its answer says why; no traceback in our log
            self.logger.info("refused a malformed request from %s: %s", request.remote, message or exc)
        if isinstance(exc, LineTooLong):
            status, code, text, field = 431, "header_too_large", f"a header line is over {MAX_FIELD} bytes", "headers"
        elif status >= 500:
            code, text, field = "internal_error", "an unexpected error; it has been logged", None
        else:
            code, text, field = "bad_request", f"the request is not valid HTTP: {message or exc}"[:300], None
        answer = web.Response(
            body=orjson.dumps(error_body(code, text, field)), status=status, content_type="application/json"
        )
        answer.force_close()
        return answer

    def _head_overdue(self, started: float) -> None:
        if self.head_started == started:
            self._refuse(408, "Request Timeout", "request_timeout", f"the request's head took over {HEAD_SECONDS:.0f}s")

    def _disarm(self) -> None:
        self.head_started = None
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None

    def _refuse(self, status: int, reason: str, code: str, message: str) -> None:
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.write(raw_answer(status, reason, code, message, None))
        self.force_close()
        if transport is not None:
            transport.close()


class GuardedServer(Server):
    def __call__(self) -> RequestHandler:
        return GuardedHandler(self, loop=self._loop, **self._kwargs)


class GuardedRunner(web.AppRunner):
    """`web.AppRunner` whose connections pass the guard above."""

    def __init__(self, app: web.Application, **kwargs: Any) -> None:
        kwargs.setdefault("keepalive_timeout", IDLE_SECONDS)
        # after an answer to a request whose body was not all read (a 401 before it, a 408 in
        # it), wait at most this long for the rest before closing (aiohttp's default: 10 s)
        kwargs.setdefault("lingering_time", LINGER_SECONDS)
        super().__init__(app, **kwargs)

    async def _make_server(self) -> Server:
        server = await super()._make_server()
        server.__class__ = GuardedServer  # the same server, making guarded handlers
        return server


JSON_MAX = 1024 * 1024  # a JSON body (files go to /media, up to the server's client_max_size)


async def read_body(request: web.Request, limit: int = JSON_MAX) -> bytes:
    """The request's body, at most `limit` bytes (413 past it); a client that stops sending
    it is cut off with a 408."""
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(413, "payload_too_large", f"the body is larger than {limit:,} bytes", "body")
    try:
        raw = await asyncio.wait_for(request.read(), BODY_SECONDS)
    except TimeoutError:
        raise ApiError(408, "request_timeout", f"the body did not arrive within {BODY_SECONDS:.0f}s", "body") from None
    if len(raw) > limit:
        raise ApiError(413, "payload_too_large", f"the body is larger than {limit:,} bytes", "body")
    return raw
