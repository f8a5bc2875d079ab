"""Mastodon: POST /api/v1/statuses, GET /api/v1/accounts/:id/statuses, GET /api/v2/instance.

As documented: an `Idempotency-Key` is kept for one hour, and a repeat within it gets the
first status back; the statuses list gives at most 40 a page (`limit`, default 20), newest
first, paged by `max_id` with a `Link` header naming the next page; a status's `content` is
HTML.
"""

from __future__ import annotations

import html
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from aiohttp import web
from yarl import URL

from infrastructure.platforms.stand_ins import body_of, integer

if TYPE_CHECKING:
    from infrastructure.platforms.simulator import Simulator

KEPT_FOR = timedelta(hours=1)  # how long the instance remembers an Idempotency-Key
COUNTED = (("favourites_count", "likes"), ("reblogs_count", "reposts"), ("replies_count", "replies"))


def add_routes(sim: Simulator, app: web.Application) -> None:
    routes = MastodonRoutes(sim)
    app.router.add_post("/api/v1/statuses", routes.create)
    app.router.add_get("/api/v1/accounts/{user}/statuses", routes.statuses)
    app.router.add_get("/api/v1/statuses/{id}", routes.one)
    app.router.add_get("/api/v2/instance", routes.instance)
    app.router.add_post("/api/v2/media", routes.upload)
    app.router.add_get("/api/v1/media/{id}", routes.media)


def as_html(text: str) -> str:
    return "<p>" + html.escape(text).replace("\n", "<br />") + "</p>"


class MastodonRoutes:
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.idempotent: dict[tuple[str, str], tuple[datetime, dict[str, Any]]] = sim.state.setdefault(
            "mastodon_keys", {}
        )

    def status(self, post: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": post["id"],
            "created_at": post["created_at"],
            "url": post["permalink"],
            "content": as_html(post["text"]),
            "in_reply_to_id": post["reply_to"],
            "visibility": "public",
            **{
                field: self.sim.counts_of(post)[name]
                for field, name in (
                    ("favourites_count", "likes"),
                    ("reblogs_count", "reposts"),
                    ("replies_count", "replies"),
                )
            },
        }

    async def one(self, request: web.Request) -> web.Response:
        """GET /api/v1/statuses/:id: the status, with its counts."""
        if self.sim.user_for(request) is None:
            return web.json_response({"error": "The access token is invalid"}, status=401)
        post = self.sim.find_post("mastodon", request.match_info["id"])
        if post is None:
            return web.json_response({"error": "Record not found"}, status=404)
        return web.json_response(self.status(post))

    async def create(self, request: web.Request) -> web.StreamResponse:
        user = self.sim.user_for(request)
        if user is None:
            return web.json_response({"error": "The access token is invalid"}, status=401)
        key = request.headers.get("Idempotency-Key", "")
        now = self.sim.now()
        if key and (remembered := self.idempotent.get((user, key))) and now - remembered[0] < KEPT_FOR:
            return web.json_response(remembered[1])  # a repeat within the hour: the first status again
        body = await body_of(request)
        text = str(body.get("status", ""))
        fault = await self.sim.fault_for(request)
        if fault == "http_401":
            return web.json_response({"error": "The access token was revoked"}, status=401)
        if fault == "http_403":
            return web.json_response({"error": "Validation failed: Text character limit of 500 exceeded"}, status=422)
        if fault == "http_429":
            reset = self.sim.clock() + timedelta(seconds=self.sim.faults.get("retry_after", 1))
            headers = {"X-RateLimit-Reset": reset.isoformat(), "X-RateLimit-Remaining": "0"}
            return web.json_response({"error": "Too many requests"}, status=429, headers=headers)
        if fault == "http_500":
            return web.json_response({"error": "We're sorry, but something went wrong on our end."}, status=500)
        ids = [str(i) for i in body.get("media_ids") or []]
        files = self.sim.files.usable("mastodon", user, ids)
        if isinstance(files, str):
            return web.json_response({"error": f"Validation failed: {files}"}, status=422)
        reply = body.get("in_reply_to_id")
        record = {"text": text, "publish_key": key or None, "reply_to": reply, "media": [f.truth() for f in files]}
        post = self.sim.accept(user, record, "mastodon")
        status = self.status(post)
        if key:
            self.idempotent[(user, key)] = (now, status)
        await self.sim.after_accept(request, fault)
        return web.json_response(status)

    async def statuses(self, request: web.Request) -> web.Response:
        if self.sim.user_for(request) is None:
            return web.json_response({"error": "The access token is invalid"}, status=401)
        limit = integer(request.query.get("limit"), 20)
        limit = min(40, max(1, limit if limit is not None else 20))  # Mastodon clamps, it does not refuse
        before = integer(request.query.get("max_id"), 0) or None
        newest_first = sorted(self.sim.posts_of("mastodon", request.match_info["user"]), key=lambda p: -int(p["id"]))
        older = [p for p in newest_first if before is None or int(p["id"]) < before]
        page = older[:limit]
        headers = {}
        if page:
            base = URL(str(request.url)).with_query({})
            links = [f'<{base.with_query({"limit": limit, "min_id": page[0]["id"]})}>; rel="prev"']
            if len(older) > limit:
                links.insert(0, f'<{base.with_query({"limit": limit, "max_id": page[-1]["id"]})}>; rel="next"')
            headers["Link"] = ", ".join(links)
        return web.json_response([self.status(p) for p in page], headers=headers)

    async def instance(self, _: web.Request) -> web.Response:
        limit = int(self.sim.faults.get("mastodon_max_characters", 500))
        statuses = {"max_characters": limit, "max_media_attachments": 4, "characters_reserved_per_url": 23}
        return web.json_response({"domain": "simulated.example", "configuration": {"statuses": statuses}})

    async def upload(self, request: web.Request) -> web.Response:
        """POST /api/v2/media: 200 once processed (images), 202 while processing (video, GIF)."""
        user = self.sim.user_for(request)
        if user is None:
            return web.json_response({"error": "The access token is invalid"}, status=401)
        form = await request.post()
        file = form.get("file")
        if not isinstance(file, web.FileField):
            return web.json_response({"error": "Validation failed: File can't be blank"}, status=422)
        description = str(form.get("description", "")) or None
        if description is not None and len(description) > 1500:
            return web.json_response({"error": "Validation failed: Description is too long"}, status=422)
        fault = self.sim.files.fault()
        if fault == "upload_500":
            return web.json_response({"error": "We're sorry, but something went wrong on our end."}, status=500)
        kind = file.content_type
        slow = kind.startswith("video/") or kind == "image/gif"
        item = self.sim.files.add("mastodon", user, file.file.read(), kind, fault, looks=2 if slow else 0)
        item.alt = description
        return web.json_response(self.attachment(item), status=202 if item.state != "succeeded" else 200)

    async def media(self, request: web.Request) -> web.Response:
        """GET /api/v1/media/:id: 206 while processing, 200 once done."""
        user = self.sim.user_for(request)
        item = self.sim.files.items.get(request.match_info["id"])
        if user is None or item is None or item.user != user:
            return web.json_response({"error": "Record not found"}, status=404)
        state = self.sim.files.look(item)
        return web.json_response(self.attachment(item), status=200 if state == "succeeded" else 206)

    @staticmethod
    def attachment(item: Any) -> dict[str, Any]:
        kind = "video" if item.mime.startswith("video/") else "gifv" if item.mime == "image/gif" else "image"
        done = item.state == "succeeded"
        return {
            "id": item.id,
            "type": kind,
            "url": f"https://files.simulated.example/{item.sha256}" if done else None,
            "description": item.alt,
        }
