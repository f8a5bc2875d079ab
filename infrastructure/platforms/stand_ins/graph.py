"""The Graph API (graph.facebook.com, v21.0) for Instagram professional accounts and Facebook
Pages, as their references document it.

Instagram: containers (POST /{ig-user}/media: IMAGE from `image_url`, REELS or VIDEO from
`video_url`, CAROUSEL of up to 10 children), their `status_code`, POST /{ig-user}/media_publish,
the account's media (GET /{ig-user}/media, cursor paging), content_publishing_limit (100 posts
in a moving 24 hours), comments. Facebook Pages: POST /{page}/feed (a message, with
`attached_media` of unpublished photos), POST /{page}/photos (`url` fetched, `published`),
GET /{page}/feed, comments. Errors are Graph errors: `error.code` 190 for the token, 4/17/32/613
for rate limits, 9 with subcode 2207042 for Instagram's publishing limit.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from aiohttp import web
from yarl import URL

from infrastructure.platforms.stand_ins import body_of, integer
from infrastructure.platforms.stand_ins.meta import ContainerRefused, MetaContainers, error, fault_answer

if TYPE_CHECKING:
    from infrastructure.platforms.simulator import Simulator

V = "/v21.0"
PUBLISHING_LIMIT = 100
PUBLISHING_WINDOW = timedelta(hours=24)


def add_routes(sim: Simulator, app: web.Application) -> None:
    routes = GraphRoutes(sim)
    app.router.add_post(V + "/{node}/media", routes.ig_container)
    app.router.add_get(V + "/{node}/media", routes.ig_media)
    app.router.add_post(V + "/{node}/media_publish", routes.ig_publish)
    app.router.add_get(V + "/{node}/content_publishing_limit", routes.ig_limit)
    app.router.add_post(V + "/{node}/feed", routes.fb_feed)
    app.router.add_get(V + "/{node}/feed", routes.fb_listing)
    app.router.add_post(V + "/{node}/photos", routes.fb_photo)
    app.router.add_post(V + "/{node}/comments", routes.comment)
    app.router.add_get(V + "/{node}", routes.node)


class GraphRoutes:
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.containers = MetaContainers(sim, "instagram", max_children=10)

    async def _params(self, request: web.Request) -> dict[str, Any]:
        return {**request.query, **(await body_of(request))}

    def _owner(self, request: web.Request) -> str | None:
        """The token's user, when it is the node the path names."""
        user = self.sim.user_for(request)
        return user if user is not None and user == request.match_info["node"] else None

    # ── Instagram ─────────────────────────────────────────────────────────────

    async def ig_container(self, request: web.Request) -> web.Response:
        user = self._owner(request)
        if user is None:
            return error(401, 190, "Error validating access token")
        params = await self._params(request)
        caption = str(params.get("caption", ""))
        if len(caption) > 2200:
            return error(400, 100, "Invalid parameter: the caption is longer than 2,200 characters")
        try:
            made = await self.containers.create(user, params, default_type="IMAGE")
        except ContainerRefused as refused:
            return error(400, refused.code, refused.message)
        return web.json_response({"id": made})

    async def ig_publish(self, request: web.Request) -> web.StreamResponse:
        user = self._owner(request)
        if user is None:
            return error(401, 190, "Error validating access token")
        params = await self._params(request)
        container = self.sim.containers.get(str(params.get("creation_id", "")))
        if container is None or container["user"] != user or container["item"]:
            return error(400, 100, "Invalid parameter: creation_id")
        state = self.containers.state(container, look=False)
        if state != "FINISHED":
            return error(400, 9007, f"Media ID is not available: the container is {state}")
        if self._published_recently(user) >= PUBLISHING_LIMIT:
            return error(400, 9, "Application request limit reached", subcode=2207042)
        fault = await self.sim.fault_for(request)
        if (refused := fault_answer(fault)) is not None:
            return refused
        kind = "CAROUSEL_ALBUM" if container["children"] else "VIDEO" if container["kind"] != "IMAGE" else "IMAGE"
        record = {
            "text": container["text"],
            "publish_key": params.get("creation_id"),
            "media": self.containers.media(container),
        }
        post = self.sim.accept(user, record, "instagram")
        post["media_type"] = kind
        post["permalink"] = f"https://www.instagram.com/p/{post['id']}/"
        container["published"] = post["id"]
        await self.sim.after_accept(request, fault)
        return web.json_response({"id": post["id"]})

    def _published_recently(self, user: str) -> int:
        since = self.sim.now() - PUBLISHING_WINDOW
        return sum(
            1
            for p in self.sim.posts_of("instagram", user)
            if p["kind"] == "post" and not p["seeded"] and datetime.fromisoformat(p["created_at"]) > since
        )

    async def ig_limit(self, request: web.Request) -> web.Response:
        user = self._owner(request)
        if user is None:
            return error(401, 190, "Error validating access token")
        config = {"quota_total": PUBLISHING_LIMIT, "quota_duration": int(PUBLISHING_WINDOW.total_seconds())}
        return web.json_response({"data": [{"quota_usage": self._published_recently(user), "config": config}]})

    async def ig_media(self, request: web.Request) -> web.Response:
        user = self._owner(request)
        if user is None:
            return error(401, 190, "Error validating access token")
        return self._listing(request, user, "instagram", text_field="caption", time_field="timestamp")

    # ── Facebook Pages ────────────────────────────────────────────────────────

    async def fb_feed(self, request: web.Request) -> web.StreamResponse:
        page = self._owner(request)
        if page is None:
            return error(401, 190, "Error validating access token")
        params = await self._params(request)
        attached = self._attached(params)
        photos = [self.sim.state.setdefault("fb_photos", {}).get(str(a.get("media_fbid", ""))) for a in attached]
        if any(p is None or p["page"] != page or p["published"] for p in photos):
            return error(400, 100, "Invalid parameter: attached_media")
        fault = await self.sim.fault_for(request)
        if (refused := fault_answer(fault)) is not None:
            return refused
        media = [{**self.sim.files.items[p["file"]].truth(), "alt": p["alt"]} for p in photos if p]
        record = {"id": self._post_id(page), "text": params.get("message", ""), "media": media}
        post = self.sim.accept(page, record, "facebook")
        post["permalink"] = f"https://www.facebook.com/{post['id']}"
        for photo in photos:
            if photo:
                photo["published"] = post["id"]
        await self.sim.after_accept(request, fault)
        return web.json_response({"id": post["id"]})

    async def fb_photo(self, request: web.Request) -> web.StreamResponse:
        page = self._owner(request)
        if page is None:
            return error(401, 190, "Error validating access token")
        params = await self._params(request)
        fault = self.sim.files.fault()
        if fault == "upload_500":
            return error(500, 2, "An unexpected error has occurred. Please retry your request later.")
        fetched = await self.sim.files.fetch("facebook", page, str(params.get("url", "")), "image/jpeg", None)
        if isinstance(fetched, str):
            return error(400, 324, f"Missing or invalid image file: {fetched}")
        fetched.looks_left = 0
        photo_id = str(self.sim.next_id())
        photo = {"page": page, "file": fetched.id, "alt": params.get("alt_text_custom"), "published": None}
        self.sim.state.setdefault("fb_photos", {})[photo_id] = photo
        if str(params.get("published", "true")).lower() == "false":
            return web.json_response({"id": photo_id})
        chosen = await self.sim.fault_for(request)
        if (refused := fault_answer(chosen)) is not None:
            return refused
        media = [{**fetched.truth(), "alt": photo["alt"]}]
        record = {"id": self._post_id(page), "text": params.get("caption", ""), "media": media}
        post = self.sim.accept(page, record, "facebook")
        post["permalink"] = f"https://www.facebook.com/{post['id']}"
        photo["published"] = post["id"]
        await self.sim.after_accept(request, chosen)
        return web.json_response({"id": photo_id, "post_id": post["id"]})

    async def fb_listing(self, request: web.Request) -> web.Response:
        page = self._owner(request)
        if page is None:
            return error(401, 190, "Error validating access token")
        return self._listing(request, page, "facebook", text_field="message", time_field="created_time")

    def _post_id(self, page: str) -> str:
        return f"{page}_{self.sim.next_id()}"

    @staticmethod
    def _attached(params: dict[str, Any]) -> list[dict[str, Any]]:
        """`attached_media` as a JSON list, or as attached_media[0], attached_media[1]…"""
        if "attached_media" in params:
            try:
                found = json.loads(str(params["attached_media"]))
            except ValueError:
                return []
            return [a for a in found if isinstance(a, dict)] if isinstance(found, list) else []
        indexed = sorted((k for k in params if k.startswith("attached_media[")), key=lambda k: int(k[15:-1] or 0))
        items = []
        for key in indexed:
            try:
                items.append(json.loads(str(params[key])))
            except ValueError:
                continue
        return items

    # ── both ──────────────────────────────────────────────────────────────────

    async def comment(self, request: web.Request) -> web.Response:
        user = self.sim.user_for(request)
        if user is None:
            return error(401, 190, "Error validating access token")
        target = request.match_info["node"]
        found = next((p for p in self.sim.posts if p["id"] == target and p["account"] == user), None)
        if found is None:
            return error(400, 100, "Unsupported post request. Object does not exist")
        params = await self._params(request)
        comment = self.sim.accept(
            user,
            {"text": params.get("message", ""), "reply_to": target, "kind": "comment"},
            found["platform"],
        )
        return web.json_response({"id": comment["id"]})

    async def node(self, request: web.Request) -> web.Response:
        """GET /{id}: a container's status_code, or a post's fields."""
        user = self.sim.user_for(request)
        node = request.match_info["node"]
        container = self.sim.containers.get(node)
        if container is not None and container["platform"] == "instagram" and container["user"] == user:
            return web.json_response({"id": node, "status_code": self.containers.state(container)})
        post = next((p for p in self.sim.posts if p["id"] == node and p["account"] == user), None)
        if post is None:
            return error(400, 100, "Unsupported get request. Object does not exist")
        return web.json_response({"id": node, "permalink": post["permalink"], "timestamp": post["created_at"]})

    def _listing(
        self, request: web.Request, owner: str, platform: str, *, text_field: str, time_field: str
    ) -> web.Response:
        query = request.query
        limit, after = integer(query.get("limit"), 25), integer(query.get("after"), 0)
        since = integer(query.get("since"), 0)
        if limit is None or not 1 <= limit <= 100 or after is None or since is None:
            return error(400, 100, "Invalid parameter")
        posts = [
            p
            for p in reversed(self.sim.posts_of(platform, owner))
            if p["kind"] == "post" and datetime.fromisoformat(p["created_at"]).timestamp() >= since
        ]
        page = posts[after : after + limit]
        data = [
            {"id": p["id"], text_field: p["text"], time_field: p["created_at"], "permalink": p["permalink"]}
            | ({"permalink_url": p["permalink"]} if platform == "facebook" else {})
            for p in page
        ]
        paging: dict[str, Any] = {"cursors": {"before": str(after), "after": str(after + len(page))}}
        if after + limit < len(posts):
            paging["next"] = str(URL(str(request.url)).update_query({"after": str(after + len(page))}))
        return web.json_response({"data": data, "paging": paging})
