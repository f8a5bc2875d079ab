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


def error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"status": status, "code": code, "message": message}, status=status)


class LinkedInRoutes:
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    async def create(self, request: web.Request) -> web.StreamResponse:
        user = self.sim.user_for(request)
        if user is None:
            return error(401, "EXPIRED_ACCESS_TOKEN", "The token used in the request has expired")
        if not request.headers.get("LinkedIn-Version"):
            return error(400, "VERSION_MISSING", "A version must be present")
        body = await body_of(request)
        text = str(body.get("commentary", ""))
        fault = await self.sim.fault_for(request)
        if earlier := next((p for p in self.sim.posts_of("linkedin", user) if p["text"] == text), None):
            return error(422, "DUPLICATE_POST", f"Content is a duplicate of {earlier['id']}")
        if fault == "http_403":
            return error(422, "UNPROCESSABLE_ENTITY", "commentary :: text is not valid")
        if fault == "http_401":
            return error(401, "REVOKED_ACCESS_TOKEN", "The token used in the request has been revoked by the user")
        if fault == "http_429":
            return error(429, "TOO_MANY_REQUESTS", "Resource level throttle limit reached")  # no headers
        if fault == "http_500":
            return error(500, "INTERNAL_SERVER_ERROR", "Internal Server Error")
        urn = f"urn:li:share:{self.sim.next_id()}"
        self.sim.accept(user, {"id": urn, "text": text}, "linkedin")
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
        newest_first = list(reversed(self.sim.posts_of("linkedin", author)))
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
