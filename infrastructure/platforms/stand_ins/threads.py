"""Threads: containers (POST /{user}/threads, with `reply_to_id` for a reply), their status
(GET /{container}?fields=status), POST /{user}/threads_publish, the user's threads and
replies (GET /{user}/threads, /{user}/replies), and the token refresh.

As documented: a container is FINISHED once ready, PUBLISHED once published (publishing it
again is refused), EXPIRED after 24 hours; lists give at most 100 a page (`limit`), since a
Unix time (`since`), paged by cursors (`paging.cursors.after`, with `paging.next`). Errors
are Graph API errors (`error.code` 190: the token; 4, 17, 32, 613: rate limits).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web
from yarl import URL

from infrastructure.platforms.stand_ins import body_of, integer
from infrastructure.platforms.stand_ins.meta import ContainerRefused, MetaContainers, error, fault_answer

if TYPE_CHECKING:
    from infrastructure.platforms.simulator import Simulator


def add_routes(sim: Simulator, app: web.Application) -> None:
    routes = ThreadsRoutes(sim)
    app.router.add_post("/v1.0/{user}/threads", routes.container)
    app.router.add_post("/v1.0/{user}/threads_publish", routes.publish)
    app.router.add_get("/v1.0/{user}/threads", routes.threads)
    app.router.add_get("/v1.0/{user}/replies", routes.replies)
    app.router.add_get("/v1.0/{container}", routes.status)
    app.router.add_get("/refresh_access_token", routes.refresh)


class ThreadsRoutes:
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.containers = MetaContainers(sim, "threads", max_children=20)

    def _user(self, request: web.Request) -> str | None:
        user = self.sim.user_for(request)
        return user if user is not None and user == request.match_info.get("user", user) else None

    async def container(self, request: web.Request) -> web.Response:
        user = self._user(request)
        if user is None:
            return error(401, 190, "Error validating access token")
        body = {**request.query, **(await body_of(request))}
        reply_to = body.get("reply_to_id")
        if reply_to and not any(p["id"] == reply_to for p in self.sim.posts_of("threads", user)):
            return error(400, 100, "Invalid parameter: reply_to_id")
        try:
            container_id = await self.containers.create(user, body, default_type="TEXT")
        except ContainerRefused as refused:
            return error(400, refused.code, refused.message)
        return web.json_response({"id": container_id})

    async def status(self, request: web.Request) -> web.Response:
        container = self.sim.containers.get(request.match_info["container"])
        if container is None or self.sim.user_for(request) != container["user"]:
            return error(400, 100, "Unsupported get request. Object does not exist")
        return web.json_response({"id": request.match_info["container"], "status": self.containers.state(container)})

    async def publish(self, request: web.Request) -> web.StreamResponse:
        user = self._user(request)
        if user is None:
            return error(401, 190, "Error validating access token")
        body = {**request.query, **(await body_of(request))}
        container = self.sim.containers.get(str(body.get("creation_id", "")))
        if container is None or container["user"] != user or container["item"]:
            return error(400, 24, "The requested resource does not exist")
        state = self.containers.state(container, look=False)
        if state != "FINISHED":
            return error(400, 24, f"The container is {state} and cannot be published")
        fault = await self.sim.fault_for(request)
        if (refused := fault_answer(fault)) is not None:
            return refused
        record = {
            "text": container["text"],
            "publish_key": body.get("creation_id"),
            "reply_to": container["reply_to"],
            "media": self.containers.media(container),
        }
        post = self.sim.accept(user, record, "threads")
        container["published"] = post["id"]
        await self.sim.after_accept(request, fault)
        return web.json_response({"id": post["id"]})

    async def threads(self, request: web.Request) -> web.Response:
        return self._listing(request, replies=False)

    async def replies(self, request: web.Request) -> web.Response:
        return self._listing(request, replies=True)

    def _listing(self, request: web.Request, *, replies: bool) -> web.Response:
        user = self._user(request)
        if user is None:
            return error(401, 190, "Error validating access token")
        query = request.query
        limit, since = integer(query.get("limit"), 25), integer(query.get("since"), 0)
        after = integer(query.get("after"), 0)
        if limit is None or not 1 <= limit <= 100 or since is None or after is None:
            return error(400, 100, "Invalid parameter")
        posts = [
            p
            for p in reversed(self.sim.posts_of("threads", user))
            if bool(p["reply_to"]) == replies and datetime.fromisoformat(p["created_at"]).timestamp() >= since
        ]
        page = posts[after : after + limit]
        data = []
        for p in page:
            item = {"id": p["id"], "text": p["text"], "timestamp": p["created_at"], "permalink": p["permalink"]}
            if replies:
                item["replied_to"] = {"id": p["reply_to"]}
            data.append(item)
        paging: dict[str, Any] = {"cursors": {"before": str(after), "after": str(after + len(page))}}
        if after + limit < len(posts):
            paging["next"] = str(URL(str(request.url)).update_query({"after": str(after + len(page))}))
        return web.json_response({"data": data, "paging": paging})

    async def refresh(self, request: web.Request) -> web.Response:
        user = self.sim.user_for(request)
        if user is None or request.query.get("grant_type") != "th_refresh_token":
            return error(401, 190, "Error validating access token")
        grant = self.sim.grant(user, expires_in=60 * 86400)
        return web.json_response(
            {"access_token": grant["access_token"], "token_type": "bearer", "expires_in": 60 * 86400}
        )
