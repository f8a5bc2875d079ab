"""LinkedIn: POST /rest/posts and GET /rest/posts?q=author (the Posts API).

As documented: a versioned request (`LinkedIn-Version`); a created post's URN in the
`x-restli-id` header; a post whose text the member already posted is refused with 422
"Content is a duplicate of urn:li:share:…", naming the live post; the author's posts come
`count` at a time (at most 100), paged by `start`, newest first when `sortBy=CREATED`.
A 429 carries no reset header.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

from infrastructure.platforms.stand_ins import body_of, integer

if TYPE_CHECKING:
    from infrastructure.platforms.simulator import Simulator


def add_routes(sim: Simulator, app: web.Application) -> None:
    routes = LinkedInRoutes(sim)
    app.router.add_post("/rest/posts", routes.create)
    app.router.add_get("/rest/posts", routes.by_author)
    app.router.add_post("/rest/images", routes.initialize_upload)
    app.router.add_put("/uploads/images/{id}", routes.upload)
    app.router.add_post("/rest/socialActions/{urn}/comments", routes.comment)


def error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"status": status, "code": code, "message": message}, status=status)


class LinkedInRoutes:
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.images: dict[str, str] = sim.state.setdefault("linkedin_images", {})  # image urn → stored file id

    async def initialize_upload(self, request: web.Request) -> web.Response:
        """POST /rest/images?action=initializeUpload: an upload URL and the image's urn."""
        user = self.sim.user_for(request)
        if user is None:
            return error(401, "EXPIRED_ACCESS_TOKEN", "The token used in the request has expired")
        if request.query.get("action") != "initializeUpload":
            return error(400, "ILLEGAL_ARGUMENT", "action must be initializeUpload")
        fault = self.sim.files.fault()
        if fault == "upload_500":
            return error(500, "INTERNAL_SERVER_ERROR", "Internal Server Error")
        item = self.sim.files.start("linkedin", user, "image/jpeg", fault)
        urn = f"urn:li:image:C4E{item.id}"
        self.images[urn] = item.id
        value = {
            "uploadUrlExpiresAt": int(item.expires_at.timestamp() * 1000),
            "uploadUrl": f"{request.url.origin()}/uploads/images/{item.id}",
            "image": urn,
        }
        return web.json_response({"value": value})

    async def upload(self, request: web.Request) -> web.Response:
        item = self.sim.files.items.get(request.match_info["id"])
        if self.sim.user_for(request) is None or item is None or item.finished:
            return error(400, "ILLEGAL_ARGUMENT", "no such upload")
        item.data.extend(await request.read())
        item.mime = request.content_type or item.mime
        self.sim.files.finish(item)
        return web.Response(status=201)

    async def comment(self, request: web.Request) -> web.Response:
        user = self.sim.user_for(request)
        if user is None:
            return error(401, "EXPIRED_ACCESS_TOKEN", "The token used in the request has expired")
        body = await body_of(request)
        target = str(body.get("object", ""))
        if not any(p["id"] == target for p in self.sim.posts_of("linkedin", user)):
            return error(404, "NOT_FOUND", f"{target} not found")
        urn = f"urn:li:comment:({target},{self.sim.next_id()})"
        text = str((body.get("message") or {}).get("text", ""))
        self.sim.accept(user, {"id": urn, "text": text, "reply_to": target, "kind": "comment"}, "linkedin")
        return web.json_response({"id": urn}, status=201, headers={"x-restli-id": urn})

    async def create(self, request: web.Request) -> web.StreamResponse:
        user = self.sim.user_for(request)
        if user is None:
            return error(401, "EXPIRED_ACCESS_TOKEN", "The token used in the request has expired")
        if not request.headers.get("LinkedIn-Version"):
            return error(400, "VERSION_MISSING", "A version must be present")
        body = await body_of(request)
        text = str(body.get("commentary", ""))
        fault = await self.sim.fault_for(request)
        own = (p for p in self.sim.posts_of("linkedin", user) if p["kind"] == "post")
        if earlier := next((p for p in own if p["text"] == text), None):
            return error(422, "DUPLICATE_POST", f"Content is a duplicate of {earlier['id']}")
        if fault == "http_403":
            return error(422, "UNPROCESSABLE_ENTITY", "commentary :: text is not valid")
        if fault == "http_401":
            return error(401, "REVOKED_ACCESS_TOKEN", "The token used in the request has been revoked by the user")
        if fault == "http_429":
            return error(429, "TOO_MANY_REQUESTS", "Resource level throttle limit reached")  # no headers
        if fault == "http_500":
            return error(500, "INTERNAL_SERVER_ERROR", "Internal Server Error")
        content = body.get("content") or {}
        chosen = [content["media"]] if "media" in content else (content.get("multiImage") or {}).get("images") or []
        images = [self.images.get(str(i.get("id", ""))) for i in chosen]
        files = self.sim.files.usable("linkedin", user, [i or "" for i in images])
        if isinstance(files, str):
            return error(422, "UNPROCESSABLE_ENTITY", f"content :: {files}")
        media = [{**f.truth(), "alt": i.get("altText")} for f, i in zip(files, chosen, strict=True)]
        urn = f"urn:li:share:{self.sim.next_id()}"
        self.sim.accept(user, {"id": urn, "text": text, "media": media}, "linkedin")
        await self.sim.after_accept(request, fault)
        return web.Response(status=201, headers={"x-restli-id": urn})

    async def by_author(self, request: web.Request) -> web.Response:
        if self.sim.user_for(request) is None:
            return error(401, "EXPIRED_ACCESS_TOKEN", "The token used in the request has expired")
        if request.query.get("q") != "author":
            return error(400, "ILLEGAL_ARGUMENT", "q must be author")
        count, start = integer(request.query.get("count"), 10), integer(request.query.get("start"), 0)
        if count is None or not 1 <= count <= 100 or start is None or start < 0:
            return error(400, "ILLEGAL_ARGUMENT", "count must be between 1 and 100, start 0 or more")
        author = request.query.get("author", "").removeprefix("urn:li:person:")
        newest_first = [p for p in reversed(self.sim.posts_of("linkedin", author)) if p["kind"] == "post"]
        page = newest_first[start : start + count]
        return web.json_response(
            {
                "elements": [self.element(p) for p in page],
                "paging": {"start": start, "count": count, "total": len(newest_first)},
            }
        )

    @staticmethod
    def element(post: dict[str, Any]) -> dict[str, Any]:
        created = int(datetime.fromisoformat(post["created_at"]).timestamp() * 1000)
        return {"id": post["id"], "commentary": post["text"], "createdAt": created, "lastModifiedAt": created}
