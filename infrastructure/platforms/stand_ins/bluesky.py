"""Bluesky (a PDS): createSession, refreshSession, createRecord, getRecord.

A createRecord whose `rkey` is taken is answered, as a PDS answers it today, with a 500
InternalServerError (bluesky-social/atproto#3718); getRecord of a key with no record is a 400
RecordNotFound. Tokens that are expired or revoked are a 400 ExpiredToken.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from aiohttp import web

from infrastructure.platforms.stand_ins import body_of

if TYPE_CHECKING:
    from infrastructure.platforms.simulator import Simulator


def add_routes(sim: Simulator, app: web.Application) -> None:
    routes = BlueskyRoutes(sim)
    app.router.add_post("/xrpc/com.atproto.server.createSession", routes.create_session)
    app.router.add_post("/xrpc/com.atproto.server.refreshSession", routes.refresh_session)
    app.router.add_post("/xrpc/com.atproto.repo.createRecord", routes.create_record)
    app.router.add_get("/xrpc/com.atproto.repo.getRecord", routes.get_record)
    app.router.add_get("/xrpc/app.bsky.feed.getPosts", routes.get_posts)
    app.router.add_post("/xrpc/com.atproto.repo.uploadBlob", routes.upload_blob)


def error(status: int, name: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": name, "message": message}, status=status, headers=headers)


def cid(uri: str) -> str:
    return "bafyrei" + hashlib.sha256(uri.encode()).hexdigest()[:40]


class BlueskyRoutes:
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.blobs: dict[str, str] = sim.state.setdefault("bluesky_blobs", {})  # cid link → stored file id

    async def create_session(self, request: web.Request) -> web.Response:
        body = await body_of(request)
        if not body.get("identifier") or body.get("password") == "wrong":
            return error(401, "AuthenticationRequired", "Invalid identifier or password")
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
            return error(400, "ExpiredToken", "Token has expired")
        grant = self.sim.grant(did, expires_in=7200)
        return web.json_response({"did": did, "accessJwt": grant["access_token"], "refreshJwt": grant["refresh_token"]})

    async def create_record(self, request: web.Request) -> web.StreamResponse:
        user = self.sim.user_for(request)
        if user is None:
            return error(400, "ExpiredToken", "Token has expired")
        body = await body_of(request)
        rkey = str(body.get("rkey", ""))
        record = body.get("record") or {}
        fault = await self.sim.fault_for(request)
        if any(p["publish_key"] == rkey for p in self.sim.posts_of("bluesky", user)):
            return error(500, "InternalServerError", "Internal Server Error")  # what a PDS says today
        if fault == "http_401":
            return error(401, "AuthenticationRequired", "Token has been revoked")
        if fault == "http_403":
            return error(
                400,
                "InvalidRequest",
                "Invalid app.bsky.feed.post record: Record/text must not be longer than 300 graphemes",
            )
        if fault == "http_429":
            reset = str(int(self.sim.clock().timestamp()) + int(self.sim.faults.get("retry_after", 1)))
            return error(
                429, "RateLimitExceeded", "Rate Limit Exceeded", {"ratelimit-reset": reset, "ratelimit-remaining": "0"}
            )
        if fault == "http_500":
            return error(502, "UpstreamFailure", "Upstream Failure")
        images = (record.get("embed") or {}).get("images") or []
        links = [str(((i.get("image") or {}).get("ref") or {}).get("$link", "")) for i in images]
        files = self.sim.files.usable("bluesky", user, [self.blobs.get(link, link) for link in links])
        if isinstance(files, str):
            return error(400, "InvalidRequest", f"Could not find blob: {files}")
        media = [
            {**f.truth(), "alt": i.get("alt"), "aspect": i.get("aspectRatio")}
            for f, i in zip(files, images, strict=True)
        ]
        uri = f"at://{user}/app.bsky.feed.post/{rkey}"
        reply = ((record.get("reply") or {}).get("parent") or {}).get("uri")
        self.sim.accept(
            user,
            {"id": uri, "text": record.get("text", ""), "publish_key": rkey, "reply_to": reply, "media": media},
            "bluesky",
        )
        await self.sim.after_accept(request, fault)
        return web.json_response({"uri": uri, "cid": cid(uri)})

    async def upload_blob(self, request: web.Request) -> web.Response:
        """The request body is the blob itself; its type is the Content-Type."""
        user = self.sim.user_for(request)
        if user is None:
            return error(400, "ExpiredToken", "Token has expired")
        data = await request.read()
        if len(data) > 1_000_000:
            return error(400, "BlobTooLarge", "This file is too large. It is 1 MB and the maximum size is 1 MB.")
        fault = self.sim.files.fault()
        if fault == "upload_500":
            return error(502, "UpstreamFailure", "Upstream Failure")
        item = self.sim.files.add("bluesky", user, data, request.content_type, fault)
        link = "bafkrei" + item.sha256[:52]
        self.blobs[link] = item.id
        blob = {"$type": "blob", "ref": {"$link": link}, "mimeType": item.mime, "size": len(data)}
        return web.json_response({"blob": blob})

    async def get_posts(self, request: web.Request) -> web.Response:
        """app.bsky.feed.getPosts: post views (with like, repost and reply counts) of up to 25
        AT-URIs; a URI that is not found is simply left out."""
        uris = request.query.getall("uris", [])
        if len(uris) > 25:
            return error(400, "InvalidRequest", "Error: uris must not have more than 25 elements")
        views = []
        for uri in uris:
            post = self.sim.find_post("bluesky", uri)
            if post is not None:
                counts = self.sim.counts_of(post)
                views.append(
                    {
                        "uri": uri,
                        "cid": cid(uri),
                        "record": {"text": post["text"]},
                        "likeCount": counts["likes"],
                        "repostCount": counts["reposts"],
                        "replyCount": counts["replies"],
                        "indexedAt": post["created_at"],
                    }
                )
        return web.json_response({"posts": views})

    async def get_record(self, request: web.Request) -> web.Response:
        repo, rkey = request.query.get("repo", ""), request.query.get("rkey", "")
        for post in self.sim.posts_of("bluesky", repo):
            if post["publish_key"] == rkey:
                return web.json_response({"uri": post["id"], "cid": cid(post["id"]), "value": {"text": post["text"]}})
        return error(400, "RecordNotFound", f"Could not locate record: at://{repo}/app.bsky.feed.post/{rkey}")
