"""The simulator impersonating each platform: its endpoints, bodies, error shapes and headers.

Shapes follow the platforms' public API references (X API v2, Mastodon, AT Protocol, LinkedIn
REST, Threads). Faults are drawn per publishing request and rendered in the platform's own
error shape; bearer tokens are checked against the simulator's grants when any were issued.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from infrastructure.platforms.simulator import Simulator

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def add_platform_routes(sim: Simulator, app: web.Application) -> None:
    x, mastodon, bluesky = XRoutes(sim), MastodonRoutes(sim), BlueskyRoutes(sim)
    linkedin, threads = LinkedInRoutes(sim), ThreadsRoutes(sim)
    for method, path, handler in [
        ("POST", "/2/tweets", x.create),
        ("GET", "/2/users/{user}/tweets", x.recent),
        ("POST", "/2/oauth2/token", x.refresh),
        ("POST", "/api/v1/statuses", mastodon.create),
        ("GET", "/api/v1/accounts/{user}/statuses", mastodon.recent),
        ("GET", "/api/v2/instance", mastodon.instance),
        ("POST", "/xrpc/com.atproto.server.createSession", bluesky.create_session),
        ("POST", "/xrpc/com.atproto.server.refreshSession", bluesky.refresh_session),
        ("POST", "/xrpc/com.atproto.repo.createRecord", bluesky.create_record),
        ("GET", "/xrpc/com.atproto.repo.getRecord", bluesky.get_record),
        ("POST", "/rest/posts", linkedin.create),
        ("GET", "/rest/posts", linkedin.by_author),
        ("POST", "/v1.0/{user}/threads", threads.container),
        ("POST", "/v1.0/{user}/threads_publish", threads.publish),
        ("GET", "/v1.0/{user}/threads", threads.recent),
        ("GET", "/refresh_access_token", threads.refresh),
    ]:
        app.router.add_route(method, path, handler)


def posts_of(sim: Simulator, platform: str, user: str) -> list[dict[str, Any]]:
    return [p for p in sim.posts if p["platform"] == platform and p["account"] == user]


async def body_of(request: web.Request) -> dict[str, Any]:
    if request.content_type == "application/json":
        try:
            found = await request.json()
        except ValueError:
            return {}
        return found if isinstance(found, dict) else {}
    return dict(await request.post())


class XRoutes:
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    @staticmethod
    def problem(status: int, title: str, detail: str, headers: dict[str, str] | None = None) -> web.Response:
        body = {"title": title, "detail": detail, "type": "about:blank", "status": status}
        return web.json_response(body, status=status, headers=headers)

    async def create(self, request: web.Request) -> web.StreamResponse:
        user = self.sim.user_for(request)
        if user is None:
            return self.problem(401, "Unauthorized", "Unauthorized")
        body = await body_of(request)
        text = str(body.get("text", ""))
        fault = await self.sim.fault_for(request)
        duplicate = any(p["text"] == text for p in posts_of(self.sim, "x", user))
        if fault == "http_403" or duplicate:
            return self.problem(403, "Forbidden", "You are not allowed to create a Tweet with duplicate content.")
        if fault == "http_401":
            return self.problem(401, "Unauthorized", "Unauthorized")
        if fault == "http_429":
            reset = str(int(time.time()) + int(self.sim.faults.get("retry_after", 1)))
            headers = {"x-rate-limit-reset": reset, "x-rate-limit-remaining": "0", "x-rate-limit-limit": "200"}
            return self.problem(429, "Too Many Requests", "Too Many Requests", headers)
        if fault == "http_500":
            return self.problem(503, "Service Unavailable", "Service Unavailable")
        reply = (body.get("reply") or {}).get("in_reply_to_tweet_id")
        post = self.sim.accept(user, {"text": text, "reply_to": reply}, platform="x")
        await self.sim.after_accept(request, fault)
        return web.json_response({"data": {"id": post["id"], "text": text}}, status=201)

    async def recent(self, request: web.Request) -> web.Response:
        if self.sim.user_for(request) is None:
            return self.problem(401, "Unauthorized", "Unauthorized")
        found = posts_of(self.sim, "x", request.match_info["user"])[-100:]
        data = [{"id": p["id"], "text": p["text"], "created_at": p["created_at"]} for p in reversed(found)]
        return web.json_response({"data": data, "meta": {"result_count": len(data)}} if data else {"meta": {}})

    async def refresh(self, request: web.Request) -> web.Response:
        body = await body_of(request)
        user = self.sim.refresh_tokens.pop(str(body.get("refresh_token", "")), None)
        if body.get("grant_type") != "refresh_token" or user is None:
            error = {"error": "invalid_request", "error_description": "Value passed for the token was invalid."}
            return web.json_response(error, status=400)
        grant = self.sim.grant(user, expires_in=7200)
        return web.json_response({"token_type": "bearer", "scope": "tweet.write offline.access", **grant})


class MastodonRoutes:
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.idempotent: dict[tuple[str, str], dict[str, Any]] = {}

    async def create(self, request: web.Request) -> web.StreamResponse:
        user = self.sim.user_for(request)
        if user is None:
            return web.json_response({"error": "The access token is invalid"}, status=401)
        key = request.headers.get("Idempotency-Key", "")
        if key and (user, key) in self.idempotent:  # Mastodon answers a repeat with the first status
            return web.json_response(self.idempotent[(user, key)])
        body = await body_of(request)
        text = str(body.get("status", ""))
        fault = await self.sim.fault_for(request)
        if fault == "http_401":
            return web.json_response({"error": "The access token was revoked"}, status=401)
        if fault == "http_403":
            return web.json_response({"error": "Validation failed: Text character limit of 500 exceeded"}, status=422)
        if fault == "http_429":
            reset = datetime.fromtimestamp(time.time() + self.sim.faults.get("retry_after", 1), UTC)
            headers = {"X-RateLimit-Reset": reset.isoformat(), "X-RateLimit-Remaining": "0"}
            return web.json_response({"error": "Too many requests"}, status=429, headers=headers)
        if fault == "http_500":
            return web.json_response({"error": "We're sorry, but something went wrong on our end."}, status=500)
        post = self.sim.accept(
            user, {"text": text, "publish_key": key or None, "reply_to": body.get("in_reply_to_id")}, "mastodon"
        )
        status = {
            "id": post["id"],
            "url": post["permalink"],
            "content": f"<p>{text}</p>",
            "created_at": post["created_at"],
        }
        if key:
            self.idempotent[(user, key)] = status
        await self.sim.after_accept(request, fault)
        return web.json_response(status)

    async def recent(self, request: web.Request) -> web.Response:
        found = posts_of(self.sim, "mastodon", request.match_info["user"])[-40:]
        return web.json_response(
            [{"id": p["id"], "url": p["permalink"], "content": f"<p>{p['text']}</p>"} for p in reversed(found)]
        )

    async def instance(self, _: web.Request) -> web.Response:
        limit = int(self.sim.faults.get("mastodon_max_characters", 500))
        statuses = {"max_characters": limit, "max_media_attachments": 4, "characters_reserved_per_url": 23}
        return web.json_response({"domain": "simulated.example", "configuration": {"statuses": statuses}})


class BlueskyRoutes:
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    @staticmethod
    def error(status: int, error: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
        return web.json_response({"error": error, "message": message}, status=status, headers=headers)

    async def create_session(self, request: web.Request) -> web.Response:
        body = await body_of(request)
        if not body.get("identifier") or body.get("password") == "wrong":
            return self.error(401, "AuthenticationRequired", "Invalid identifier or password")
        did = f"did:plc:{body['identifier']}"
        grant = self.sim.grant(did, expires_in=7200)
        return web.json_response(
            {
                "did": did,
                "handle": body["identifier"],
                "accessJwt": grant["access_token"],
                "refreshJwt": grant["refresh_token"],
            }
        )

    async def refresh_session(self, request: web.Request) -> web.Response:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        did = self.sim.refresh_tokens.pop(token, None)
        if did is None:
            return self.error(400, "ExpiredToken", "Token has expired")
        grant = self.sim.grant(did, expires_in=7200)
        return web.json_response({"did": did, "accessJwt": grant["access_token"], "refreshJwt": grant["refresh_token"]})

    async def create_record(self, request: web.Request) -> web.StreamResponse:
        user = self.sim.user_for(request)
        if user is None:
            return self.error(400, "ExpiredToken", "Token has expired")
        body = await body_of(request)
        rkey = str(body.get("rkey", ""))
        record = body.get("record") or {}
        fault = await self.sim.fault_for(request)
        if any(p["publish_key"] == rkey for p in posts_of(self.sim, "bluesky", user)):
            return self.error(500, "InternalServerError", "Internal Server Error")  # what a PDS says today
        if fault == "http_401":
            return self.error(401, "AuthenticationRequired", "Token has been revoked")
        if fault == "http_403":
            return self.error(
                400,
                "InvalidRequest",
                "Invalid app.bsky.feed.post record: Record/text must not be longer than 300 graphemes",
            )
        if fault == "http_429":
            reset = str(int(time.time()) + int(self.sim.faults.get("retry_after", 1)))
            return self.error(
                429, "RateLimitExceeded", "Rate Limit Exceeded", {"ratelimit-reset": reset, "ratelimit-remaining": "0"}
            )
        if fault == "http_500":
            return self.error(502, "UpstreamFailure", "Upstream Failure")
        uri = f"at://{user}/app.bsky.feed.post/{rkey}"
        reply = ((record.get("reply") or {}).get("parent") or {}).get("uri")
        self.sim.accept(
            user, {"id": uri, "text": record.get("text", ""), "publish_key": rkey, "reply_to": reply}, "bluesky"
        )
        await self.sim.after_accept(request, fault)
        return web.json_response({"uri": uri, "cid": f"bafy{abs(hash(uri)) % 10**12}"})

    async def get_record(self, request: web.Request) -> web.Response:
        repo, rkey = request.query.get("repo", ""), request.query.get("rkey", "")
        for post in posts_of(self.sim, "bluesky", repo):
            if post["publish_key"] == rkey:
                return web.json_response({"uri": post["id"], "cid": "bafy", "value": {"text": post["text"]}})
        return self.error(400, "RecordNotFound", f"Could not locate record: at://{repo}/app.bsky.feed.post/{rkey}")


class LinkedInRoutes:
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    @staticmethod
    def error(status: int, code: str, message: str) -> web.Response:
        return web.json_response({"status": status, "code": code, "message": message}, status=status)

    async def create(self, request: web.Request) -> web.StreamResponse:
        user = self.sim.user_for(request)
        if user is None:
            return self.error(401, "EXPIRED_ACCESS_TOKEN", "The token used in the request has expired")
        if not request.headers.get("LinkedIn-Version"):
            return self.error(400, "VERSION_MISSING", "A version must be present")
        body = await body_of(request)
        text = str(body.get("commentary", ""))
        fault = await self.sim.fault_for(request)
        if fault == "http_403" or any(p["text"] == text for p in posts_of(self.sim, "linkedin", user)):
            return self.error(422, "DUPLICATE_POST", "Content is a duplicate of urn:li:share:1")
        if fault == "http_401":
            return self.error(401, "REVOKED_ACCESS_TOKEN", "The token used in the request has been revoked by the user")
        if fault == "http_429":
            return self.error(429, "TOO_MANY_REQUESTS", "Resource level throttle limit reached")  # no headers
        if fault == "http_500":
            return self.error(500, "INTERNAL_SERVER_ERROR", "Internal Server Error")
        post = self.sim.accept(user, {"text": text}, "linkedin")
        urn = f"urn:li:share:{post['id']}"
        post["id"] = urn
        await self.sim.after_accept(request, fault)
        return web.Response(status=201, headers={"x-restli-id": urn})

    async def by_author(self, request: web.Request) -> web.Response:
        author = request.query.get("author", "").removeprefix("urn:li:person:")
        found = posts_of(self.sim, "linkedin", author)
        return web.json_response({"elements": [{"id": p["id"], "commentary": p["text"]} for p in reversed(found)]})


class ThreadsRoutes:
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    @staticmethod
    def error(status: int, code: int, message: str) -> web.Response:
        return web.json_response({"error": {"message": message, "type": "OAuthException", "code": code}}, status=status)

    async def container(self, request: web.Request) -> web.Response:
        user = self.sim.user_for(request)
        if user is None or user != request.match_info["user"]:
            return self.error(401, 190, "Error validating access token")
        body = {**request.query, **(await body_of(request))}
        container_id = f"c{self.sim.next_id()}"
        self.sim.containers[container_id] = {"user": user, "text": body.get("text", ""), "published": None}
        return web.json_response({"id": container_id})

    async def publish(self, request: web.Request) -> web.StreamResponse:
        user = self.sim.user_for(request)
        if user is None or user != request.match_info["user"]:
            return self.error(401, 190, "Error validating access token")
        body = {**request.query, **(await body_of(request))}
        container = self.sim.containers.get(str(body.get("creation_id", "")))
        if container is None or container["user"] != user:
            return self.error(400, 24, "The requested resource does not exist")
        if container["published"]:
            return self.error(400, 10, "This container was already published")
        fault = await self.sim.fault_for(request)
        if fault == "http_401":
            return self.error(401, 190, "Error validating access token: The session has been invalidated")
        if fault == "http_403":
            return self.error(400, 100, "Invalid parameter")
        if fault == "http_429":
            return self.error(429, 4, "Application request limit reached")
        if fault == "http_500":
            return self.error(500, 2, "An unexpected error has occurred. Please retry your request later.")
        post = self.sim.accept(user, {"text": container["text"], "publish_key": body.get("creation_id")}, "threads")
        container["published"] = post["id"]
        await self.sim.after_accept(request, fault)
        return web.json_response({"id": post["id"]})

    async def recent(self, request: web.Request) -> web.Response:
        found = posts_of(self.sim, "threads", request.match_info["user"])
        return web.json_response(
            {"data": [{"id": p["id"], "text": p["text"], "permalink": p["permalink"]} for p in reversed(found)]}
        )

    async def refresh(self, request: web.Request) -> web.Response:
        user = self.sim.user_for(request)
        if user is None or request.query.get("grant_type") != "th_refresh_token":
            return self.error(401, 190, "Error validating access token")
        grant = self.sim.grant(user, expires_in=60 * 86400)
        return web.json_response(
            {"access_token": grant["access_token"], "token_type": "bearer", "expires_in": 60 * 86400}
        )
