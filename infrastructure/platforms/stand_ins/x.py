"""X API v2: POST /2/tweets, GET /2/users/:id/tweets (a user's timeline), POST /2/oauth2/token.

As documented: the timeline gives 5 to 100 posts a page (`max_results`, default 10), newest
first, `start_time`/`end_time` in RFC 3339, pages chained by `meta.next_token` passed back as
`pagination_token`, and only a user's 3,200 latest posts at all. Errors are problem details.
A post whose text the user already posted is refused with 403 "duplicate content".
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

from infrastructure.platforms.stand_ins import body_of, integer

if TYPE_CHECKING:
    from infrastructure.platforms.simulator import Simulator

DEPTH = 3200  # X shows a user's 3,200 latest posts, no more


def add_routes(sim: Simulator, app: web.Application) -> None:
    routes = XRoutes(sim)
    app.router.add_post("/2/tweets", routes.create)
    app.router.add_post("/2/media/upload", routes.upload)
    app.router.add_get("/2/media/upload", routes.status)
    app.router.add_post("/2/media/upload/initialize", routes.initialize)
    app.router.add_post("/2/media/upload/{id}/append", routes.append)
    app.router.add_post("/2/media/upload/{id}/finalize", routes.finalize)
    app.router.add_post("/2/media/metadata", routes.metadata)
    app.router.add_get("/2/users/{user}/tweets", routes.timeline)
    app.router.add_get("/2/tweets/{id}", routes.one)
    app.router.add_post("/2/oauth2/token", routes.refresh)


def problem(status: int, title: str, detail: str, headers: dict[str, str] | None = None, **extra: Any) -> web.Response:
    body = {"title": title, "detail": detail, "type": "about:blank", "status": status, **extra}
    return web.json_response(body, status=status, headers=headers)


def invalid(parameter: str, value: str, message: str) -> web.Response:
    return problem(
        400,
        "Invalid Request",
        "One or more parameters to your request was invalid.",
        type="https://api.twitter.com/2/problems/invalid-request",
        errors=[{"parameters": {parameter: [value]}, "message": message}],
    )


def rfc3339(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


class XRoutes:
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    async def create(self, request: web.Request) -> web.StreamResponse:
        user = self.sim.user_for(request)
        if user is None:
            return problem(401, "Unauthorized", "Unauthorized")
        body = await body_of(request)
        text = str(body.get("text", ""))
        fault = await self.sim.fault_for(request)
        if any(p["text"] == text for p in self.sim.posts_of("x", user)):
            return problem(403, "Forbidden", "You are not allowed to create a Tweet with duplicate content.")
        if fault == "http_403":
            return problem(403, "Forbidden", "You are not permitted to perform this action.")
        if fault == "http_401":
            return problem(401, "Unauthorized", "Unauthorized")
        if fault == "http_429":
            reset = str(int(self.sim.clock().timestamp()) + int(self.sim.faults.get("retry_after", 1)))
            headers = {"x-rate-limit-reset": reset, "x-rate-limit-remaining": "0", "x-rate-limit-limit": "200"}
            return problem(429, "Too Many Requests", "Too Many Requests", headers)
        if fault == "http_500":
            return problem(503, "Service Unavailable", "Service Unavailable")
        ids = [str(i) for i in (body.get("media") or {}).get("media_ids") or []]
        files = self.sim.files.usable("x", user, ids)
        if isinstance(files, str):
            return invalid("media.media_ids", ",".join(ids), f"Your media IDs are invalid: {files}")
        reply = (body.get("reply") or {}).get("in_reply_to_tweet_id")
        media = [f.truth() for f in files]
        post = self.sim.accept(user, {"text": text, "reply_to": reply, "media": media}, platform="x")
        await self.sim.after_accept(request, fault)
        return web.json_response({"data": {"id": post["id"], "text": text}}, status=201)

    async def one(self, request: web.Request) -> web.Response:
        """GET /2/tweets/:id with tweet.fields=public_metrics: the post and its counts."""
        if self.sim.user_for(request) is None:
            return problem(401, "Unauthorized", "Unauthorized")
        post = self.sim.find_post("x", request.match_info["id"])
        if post is None:
            return web.json_response(
                {
                    "errors": [
                        {
                            "value": request.match_info["id"],
                            "detail": f"Could not find tweet with id: [{request.match_info['id']}].",
                            "title": "Not Found Error",
                            "resource_type": "tweet",
                            "parameter": "id",
                            "type": "https://api.twitter.com/2/problems/resource-not-found",
                        }
                    ]
                }
            )  # X answers 200 with the error listed
        data: dict[str, Any] = {"id": post["id"], "text": post["text"]}
        if "public_metrics" in request.query.get("tweet.fields", "").split(","):
            counts = self.sim.counts_of(post)
            data["public_metrics"] = {
                "retweet_count": counts["reposts"],
                "reply_count": counts["replies"],
                "like_count": counts["likes"],
                "quote_count": 0,
            }
        return web.json_response({"data": data})

    async def timeline(self, request: web.Request) -> web.Response:
        if self.sim.user_for(request) is None:
            return problem(401, "Unauthorized", "Unauthorized")
        query = request.query
        size = integer(query.get("max_results"), 10)
        if size is None or not 5 <= size <= 100:
            value = query.get("max_results", "")
            return invalid(
                "max_results", value, f"The `max_results` query parameter value [{value}] is not between 5 and 100"
            )
        start = rfc3339(query["start_time"]) if "start_time" in query else None
        end = rfc3339(query["end_time"]) if "end_time" in query else None
        if ("start_time" in query and start is None) or ("end_time" in query and end is None):
            return invalid("start_time", query.get("start_time", ""), "Invalid date-time format")
        latest = list(reversed(self.sim.posts_of("x", request.match_info["user"])))[:DEPTH]
        window = [
            p
            for p in latest
            if (start is None or datetime.fromisoformat(p["created_at"]) >= start)
            and (end is None or datetime.fromisoformat(p["created_at"]) < end)
        ]
        offset = integer(query.get("pagination_token"), 0)
        if offset is None or offset < 0:
            return invalid("pagination_token", query.get("pagination_token", ""), "Invalid pagination token")
        page = window[offset : offset + size]
        fields = set(query.get("tweet.fields", "").split(","))
        meta: dict[str, Any] = {"result_count": len(page)}
        if page:
            meta |= {"newest_id": page[0]["id"], "oldest_id": page[-1]["id"]}
        if offset + size < len(window):
            meta["next_token"] = str(offset + size)
        if not page:
            return web.json_response({"meta": meta})
        return web.json_response({"data": [self.tweet(p, fields) for p in page], "meta": meta})

    @staticmethod
    def tweet(post: dict[str, Any], fields: set[str]) -> dict[str, Any]:
        tweet: dict[str, Any] = {"id": post["id"], "text": post["text"], "edit_history_tweet_ids": [post["id"]]}
        if "created_at" in fields:
            tweet["created_at"] = post["created_at"]
        if "referenced_tweets" in fields and post["reply_to"]:
            tweet["referenced_tweets"] = [{"type": "replied_to", "id": post["reply_to"]}]
        return tweet

    async def refresh(self, request: web.Request) -> web.Response:
        self.sim.state["x_refreshes"] = self.sim.state.get("x_refreshes", 0) + 1
        body = await body_of(request)
        user = self.sim.refresh_tokens.pop(str(body.get("refresh_token", "")), None)
        if body.get("grant_type") != "refresh_token" or user is None:
            error = {"error": "invalid_request", "error_description": "Value passed for the token was invalid."}
            return web.json_response(error, status=400)
        grant = self.sim.grant(user, expires_in=7200)
        return web.json_response({"token_type": "bearer", "scope": "tweet.write offline.access", **grant})

    # ── media upload v2: simple for images; initialize/append/finalize/status for GIF and video ──

    async def upload(self, request: web.Request) -> web.Response:
        user = self.sim.user_for(request)
        if user is None:
            return problem(401, "Unauthorized", "Unauthorized")
        form = await request.post()
        media = form.get("media")
        if not isinstance(media, web.FileField):
            return invalid("media", "", "The `media` field is required")
        fault = self.sim.files.fault()
        if fault == "upload_500":
            return problem(503, "Service Unavailable", "Service Unavailable")
        kind = media.content_type
        item = self.sim.files.add("x", user, media.file.read(), kind, fault)
        return web.json_response(self._media(item))

    async def initialize(self, request: web.Request) -> web.Response:
        user = self.sim.user_for(request)
        if user is None:
            return problem(401, "Unauthorized", "Unauthorized")
        body = await body_of(request)
        fault = self.sim.files.fault()
        if fault == "upload_500":
            return problem(503, "Service Unavailable", "Service Unavailable")
        item = self.sim.files.start("x", user, str(body.get("media_type", "")), fault, looks=2)
        return web.json_response(self._media(item))

    async def append(self, request: web.Request) -> web.Response:
        item = self.sim.files.items.get(request.match_info["id"])
        if self.sim.user_for(request) is None or item is None or item.finished:
            return invalid("id", request.match_info["id"], "Invalid media id")
        form = await request.post()
        chunk = form.get("media")
        if not isinstance(chunk, web.FileField):
            return invalid("media", "", "The `media` field is required")
        item.data.extend(chunk.file.read())
        return web.json_response({"data": {"expires_at": int(item.expires_at.timestamp())}})

    async def finalize(self, request: web.Request) -> web.Response:
        item = self.sim.files.items.get(request.match_info["id"])
        if self.sim.user_for(request) is None or item is None:
            return invalid("id", request.match_info["id"], "Invalid media id")
        self.sim.files.finish(item)
        return web.json_response(self._media(item))

    async def status(self, request: web.Request) -> web.Response:
        item = self.sim.files.items.get(request.query.get("media_id", ""))
        if self.sim.user_for(request) is None or item is None or request.query.get("command") != "STATUS":
            return invalid("media_id", request.query.get("media_id", ""), "Invalid media id")
        state = self.sim.files.look(item)
        return web.json_response({"data": {"id": item.id, "processing_info": {"state": state, "check_after_secs": 1}}})

    async def metadata(self, request: web.Request) -> web.Response:
        body = await body_of(request)
        item = self.sim.files.items.get(str(body.get("id", "")))
        if self.sim.user_for(request) is None or item is None:
            return invalid("id", str(body.get("id", "")), "Invalid media id")
        text = ((body.get("metadata") or {}).get("alt_text") or {}).get("text")
        if text is not None and len(text) > 1000:
            return invalid("alt_text", "", "alt text is longer than 1000 characters")
        item.alt = text
        return web.json_response({"data": {"id": item.id, "associated_metadata": True}})

    def _media(self, item: Any) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": item.id,
            "media_key": f"3_{item.id}",
            "expires_after_secs": max(0, int((item.expires_at - self.sim.now()).total_seconds())),
        }
        if item.finished and item.mime.startswith(("video/", "image/gif")):
            data["processing_info"] = {"state": item.state, "check_after_secs": 1}
        return {"data": data}
