"""/v1/workspaces/{workspace_id}/media: add (a multipart upload, or a URL fetched once), list,
read, describe, delete; and /media/{token}, where platforms fetch a file at a signed URL."""

from __future__ import annotations

import asyncio
from email import policy
from email.parser import BytesParser
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from domain.errors import HeraldError
from infrastructure.api.context import Context
from infrastructure.api.errors import ApiError, json_response
from infrastructure.api.guards import body_json, workspace_of
from infrastructure.api.keys import CTX
from infrastructure.api.media_models import AddMediaFromUrl, DescribeMedia, MediaList, MediaOut
from infrastructure.api.server import read_body
from infrastructure.targets import PrivateAddressRefused, outbound_session
from services.media import MediaView

MEDIA_MAX = 64 * 1024 * 1024  # a file added through the API (larger ones: herald media add)
FETCH_SECONDS = 30.0


def media_out(view: MediaView) -> dict[str, Any]:
    return MediaOut.model_validate(view.model_dump()).model_dump(mode="json")


async def add(request: web.Request) -> web.Response:
    """A file as multipart/form-data (`file`, optional `alt_text`), or JSON naming a URL."""
    ctx: Context = request.app[CTX]
    workspace = workspace_of(request)
    raw = await read_body(request, limit=MEDIA_MAX + 64 * 1024)
    if request.content_type == "multipart/form-data":
        data, filename, alt_text = _multipart(raw, request.headers.get("Content-Type", ""))
    else:
        body = AddMediaFromUrl.model_validate(body_json(raw))
        ctx.herald.accounts.targets.webhook_url(body.url)  # https on a public host, as any outbound URL
        data = await _fetch(body.url)
        filename = body.filename or urlsplit(body.url).path.rsplit("/", 1)[-1] or "file"
        alt_text = body.alt_text
    view = await asyncio.to_thread(ctx.herald.media.add, workspace, data, filename=filename, alt_text=alt_text)
    return json_response(media_out(view), 201)


def _multipart(raw: bytes, content_type: str) -> tuple[bytes, str, str | None]:
    """The file, its name and the alt text of a multipart/form-data body (already read whole,
    as the idempotency guard reads every POST)."""
    message = BytesParser(policy=policy.HTTP).parsebytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + raw)
    data, filename, alt_text = None, "file", None
    for part in message.iter_parts() if message.is_multipart() else []:
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        content = payload if isinstance(payload, bytes) else b""  # a part nested in a part holds no file
        if name == "file":
            data = content
            filename = part.get_filename() or "file"
        elif name == "alt_text":
            alt_text = content.decode("utf-8", errors="replace") or None
    if data is None:
        raise ApiError(422, "file_missing", "send the file as the multipart part named file", "file")
    return bytes(data), str(filename), alt_text


async def _fetch(url: str) -> bytes:
    """The file at `url`, fetched once: no redirects, at most MEDIA_MAX bytes, within 30 s."""
    timeout = aiohttp.ClientTimeout(total=FETCH_SECONDS)
    try:
        async with outbound_session() as session, session.get(url, timeout=timeout, allow_redirects=False) as answer:
            if answer.status != 200:
                where = " (a redirect: give the final address)" if 300 <= answer.status < 400 else ""
                raise ApiError(422, "media_fetch_failed", f"{url} answered HTTP {answer.status}{where}", "url")
            data = await answer.content.read(MEDIA_MAX + 1)
    except (aiohttp.ClientError, TimeoutError, PrivateAddressRefused, UnicodeError, ValueError) as problem:
        raise ApiError(
            422, "media_fetch_failed", f"{url} could not be fetched: {type(problem).__name__}", "url"
        ) from None
    if len(data) > MEDIA_MAX:
        raise ApiError(413, "payload_too_large", f"the file is larger than {MEDIA_MAX:,} bytes", "url")
    return data


async def list_media(request: web.Request) -> web.Response:
    ctx: Context = request.app[CTX]
    views = await asyncio.to_thread(ctx.herald.media.all, workspace_of(request))
    return json_response(
        MediaList(items=[MediaOut.model_validate(v.model_dump()) for v in views]).model_dump(mode="json")
    )


async def get_media(request: web.Request) -> web.Response:
    ctx: Context = request.app[CTX]
    view = await asyncio.to_thread(ctx.herald.media.get, workspace_of(request), request.match_info["media_id"])
    return json_response(media_out(view))


async def describe(request: web.Request) -> web.Response:
    ctx: Context = request.app[CTX]
    body = DescribeMedia.model_validate(body_json(await read_body(request)))
    view = await asyncio.to_thread(
        ctx.herald.media.describe, workspace_of(request), request.match_info["media_id"], body.alt_text
    )
    return json_response(media_out(view))


async def delete(request: web.Request) -> web.Response:
    ctx: Context = request.app[CTX]
    identifier = request.match_info["media_id"]
    await asyncio.to_thread(ctx.herald.media.delete, workspace_of(request), identifier)
    return json_response({"deleted": identifier})


async def serve_file(request: web.Request) -> web.StreamResponse:
    """A file at its signed URL (public: the token is the permission). Every refusal is the
    same 404, so a token reveals nothing about what exists."""
    ctx: Context = request.app[CTX]
    links = ctx.media_links()
    try:
        workspace, identifier = links.open(request.match_info["token"])
        info = await asyncio.to_thread(ctx.herald.media.info, workspace, identifier)
        data = await asyncio.to_thread(ctx.herald.media.store.read, info.sha256)
    except (HeraldError, OSError):
        raise ApiError(404, "not_found", "no such media link, or it has expired", None) from None
    return web.Response(
        body=data,
        content_type=info.mime,
        headers={"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )
