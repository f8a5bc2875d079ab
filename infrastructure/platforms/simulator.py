"""The platform simulator: the one fake at the edge, a real aiohttp server on 127.0.0.1.

It impersonates each platform as its API reference documents it (`stand_ins/`): endpoints,
bodies, error shapes, paging limits, duplicate answers, processing states. It keeps the truth
(every post it accepted, with its publish key, the post it replies to and when it was made)
and shows it at `/admin/truth`, so tests count what really got published. Faults are drawn by
ratio from a seeded generator: accept-then-drop, slow answers, 5xx, 429, 401, 403, latency.
`/admin/seed` gives an account a deep history; `/admin/revoke` revokes its tokens (with or
without its refresh tokens); `/admin/grant` issues new ones (a reconnect).
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from infrastructure.platforms.stand_ins.files import UPLOAD_FAULTS, SimulatedFiles

FAULTS = ("accept_drop", "slow", "http_500", "http_429", "http_401", "http_403")


class BadFaults(ValueError):
    pass


def parse_faults(text: str) -> dict[str, float]:
    """`accept_drop=0.1,http_500=0.05,latency_ms=20` → a dict, refusing unknown names."""
    faults: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, value = item.partition("=")
        if name not in (
            *FAULTS,
            *UPLOAD_FAULTS,
            "latency_ms",
            "slow_seconds",
            "retry_after",
            "mastodon_max_characters",
        ):
            raise BadFaults(f"unknown fault {name!r}; known: {', '.join(FAULTS)}, latency_ms")
        try:
            faults[name] = float(value)
        except ValueError:
            raise BadFaults(f"fault {name!r} needs a number, got {value!r}") from None
    if sum(faults.get(name, 0.0) for name in FAULTS) > 1:
        raise BadFaults("fault ratios add up to more than 1")
    return faults


def real_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class Simulator:
    faults: dict[str, float] = field(default_factory=dict)
    seed: int = 0
    clock: Callable[[], datetime] = real_clock
    posts: list[dict[str, Any]] = field(default_factory=list)
    requests: int = 0
    # bearer token → {"user": remote user id, "expires_at": epoch or None}; empty: any token works
    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    refresh_tokens: dict[str, str] = field(default_factory=dict)  # refresh token → user
    containers: dict[str, dict[str, Any]] = field(default_factory=dict)  # Threads containers
    state: dict[str, Any] = field(default_factory=dict)  # each stand-in's own (idempotency keys…)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)
        self._ids = itertools.count(1)
        self._granted = False  # until a grant is issued, any token is taken (tests that need no accounts)
        self._by_account: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._by_id: dict[tuple[str, str], dict[str, Any]] = {}  # (platform or "*", remote id) → post
        self._indexed = 0  # how many of `posts` the per-account index holds
        self._last: dict[str, Any] | None = None
        self._noise: asyncio.Task[None] | None = None
        self.files = SimulatedFiles(self)

    def draw(self) -> str | None:
        roll = self._random.random()
        for name in FAULTS:
            ratio = self.faults.get(name, 0.0)
            if roll < ratio:
                return name
            roll -= ratio
        return None

    def now(self) -> datetime:
        return self.clock().astimezone(UTC)

    def accept(
        self, account: str, body: dict[str, Any], platform: str = "generic", at: datetime | None = None
    ) -> dict[str, Any]:
        remote_id = str(body.get("id") or self.next_id())
        post = {
            "id": remote_id,
            "platform": platform,
            "account": account,
            "text": body.get("text", ""),
            "publish_key": body.get("publish_key"),
            "reply_to": body.get("reply_to"),
            "permalink": f"https://simulated.example/{account}/{remote_id}",
            "created_at": (at or self.now()).isoformat(),
            "seeded": bool(body.get("seeded")),
            "media": list(body.get("media") or []),  # each file's sha256, alt text and type, in order
            "kind": body.get("kind", "post"),  # post, or comment (a first comment)
        }
        self.posts.append(post)
        return post

    def counts_of(self, post: dict[str, Any]) -> dict[str, int]:
        """What the platform counts for a post: deterministic from its id, growing with its age
        for a week, as real audiences do (the engagement fetcher's tests read them)."""
        age = (self.now() - datetime.fromisoformat(post["created_at"])).total_seconds() / 3600
        seed = int(hashlib.sha256(f"{post['platform']}:{post['id']}".encode()).hexdigest()[:6], 16)
        likes = seed % 20 + int(max(0.0, min(age, 168.0)) * (1 + seed % 5))
        return {"likes": likes, "reposts": likes // 4, "replies": likes // 7}

    def find_post(self, platform: str, remote_id: str) -> dict[str, Any] | None:
        self._index()
        return self._by_id.get((platform, remote_id))

    def posts_of(self, platform: str, user: str) -> list[dict[str, Any]]:
        """The account's posts, oldest first (a copy)."""
        return list(self._account(platform, user))

    def _account(self, platform: str, user: str) -> list[dict[str, Any]]:
        self._index()
        return self._by_account.get((platform, user), [])

    def _index(self) -> None:
        """Keep the indexes by account and by id up to date: histories run deep, and a request
        that scanned every post would make a long benchmark measure the simulator. They are
        rebuilt whenever `posts` was changed other than by appending."""
        if self._indexed > len(self.posts) or (self._indexed and self.posts[self._indexed - 1] is not self._last):
            self._by_account, self._by_id, self._indexed = {}, {}, 0
        for post in self.posts[self._indexed :]:
            self._by_account.setdefault((post["platform"], post["account"]), []).append(post)
            self._by_id.setdefault((post["platform"], post["id"]), post)  # the first, as a scan finds
            self._by_id.setdefault(("*", post["id"]), post)
        self._indexed = len(self.posts)
        self._last = self.posts[-1] if self.posts else None

    def next_id(self) -> str:
        return str(next(self._ids))

    def user_for(self, request: web.Request) -> str | None:
        """The user a bearer token belongs to; None when it is unknown, revoked or expired."""
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ").strip() or request.query.get("access_token", "")
        if not self.tokens and not self._granted:
            return token or "anonymous"
        grant = self.tokens.get(token)
        if grant is None:
            return None
        expires = grant.get("expires_at")
        if expires is not None and expires <= self.now().timestamp():
            return None
        return str(grant["user"])

    def grant(self, user: str, *, expires_in: float | None = None) -> dict[str, Any]:
        """Issue a fresh access and refresh token for `user` (the platforms' refresh flows)."""
        self._granted = True
        access, refresh = f"at-{user}-{next(self._ids)}", f"rt-{user}-{next(self._ids)}"
        expires_at = self.now().timestamp() + expires_in if expires_in else None
        self.tokens[access] = {"user": user, "expires_at": expires_at}
        self.refresh_tokens[refresh] = user
        return {"access_token": access, "refresh_token": refresh, "expires_in": expires_in}

    def revoke(self, user: str, *, refresh_too: bool) -> None:
        """Revoke the user's access tokens; with `refresh_too`, its refresh tokens as well (no
        refresh can then help: the account must be reconnected)."""
        self.tokens = {t: g for t, g in self.tokens.items() if g["user"] != user}
        if refresh_too:
            self.refresh_tokens = {t: u for t, u in self.refresh_tokens.items() if u != user}

    def seed_history(self, platform: str, user: str, count: int, spread: float) -> None:
        """`count` posts by `user` spread over the last `spread` seconds (an account's history)."""
        now = self.now()
        for n in range(count):
            at = now - timedelta(seconds=spread * (count - n) / count)
            self.accept(user, {"text": f"older post {n} by {user}", "seeded": True}, platform, at=at)

    def noise(self, accounts: list[tuple[str, str]], per_second: float) -> None:
        """Keep these accounts posting on their own, `per_second` each (0 stops it): the traffic
        a busy account makes besides Herald's, which a reconciler's look must page through."""
        if self._noise is not None:
            self._noise.cancel()
            self._noise = None
        if per_second <= 0 or not accounts:
            return

        async def chatter() -> None:
            owed = 0.0
            while True:
                await asyncio.sleep(0.2)
                owed += per_second * 0.2
                for _ in range(int(owed)):
                    for platform, user in accounts:
                        self.accept(user, {"text": f"chatter {self.next_id()} by {user}", "seeded": True}, platform)
                owed -= int(owed)

        self._noise = asyncio.get_running_loop().create_task(chatter())

    async def fault_for(self, request: web.Request) -> str | None:
        """Count the request, wait the configured latency, and draw this request's fault."""
        self.requests += 1
        if latency := self.faults.get("latency_ms"):
            await asyncio.sleep(latency / 1000)
        return self.draw()

    async def after_accept(self, request: web.Request, fault: str | None) -> None:
        """Accepted and stored: now maybe drop the connection, or answer too late."""
        if fault == "accept_drop":
            if request.transport is not None:  # None: the client has gone already (a killed worker)
                request.transport.abort()  # stored, but the client never hears back
            raise asyncio.CancelledError
        if fault == "slow":
            await asyncio.sleep(self.faults.get("slow_seconds", 30.0))

    # ── HTTP ──────────────────────────────────────────────────────────────────

    def app(self) -> web.Application:
        from infrastructure.platforms.stand_ins import add_platform_routes

        app = web.Application()
        app.router.add_post("/v1/accounts/{account}/posts", self.create_post)
        app.router.add_get("/v1/accounts/{account}/posts", self.list_posts)
        app.router.add_get("/v1/posts/{remote_id}", self.get_post)
        app.router.add_get("/admin/truth", self.truth)
        app.router.add_post("/admin/faults", self.set_faults)
        app.router.add_post("/admin/seed", self.seed_endpoint)
        app.router.add_post("/admin/revoke", self.revoke_endpoint)
        app.router.add_post("/admin/grant", self.grant_endpoint)
        app.router.add_post("/admin/noise", self.noise_endpoint)
        add_platform_routes(self, app)
        return app

    async def create_post(self, request: web.Request) -> web.StreamResponse:
        account = request.match_info["account"]
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"error": "bad_json"}, status=400)
        fault = await self.fault_for(request)
        if fault == "http_500":
            return web.json_response({"error": "internal"}, status=500)
        if fault == "http_429":
            retry_after = str(int(self.faults.get("retry_after", 1)))
            return web.json_response({"error": "rate_limited"}, status=429, headers={"Retry-After": retry_after})
        if fault == "http_401":
            return web.json_response({"error": "token_revoked"}, status=401)
        if any(p["publish_key"] == body.get("publish_key") for p in self._account("generic", account)):
            return web.json_response({"error": "duplicate_content"}, status=403)  # it is there already
        if fault == "http_403":
            return web.json_response({"error": "content_rejected"}, status=403)
        post = self.accept(account, body)
        await self.after_accept(request, fault)
        return web.json_response({"id": post["id"], "permalink": post["permalink"]}, status=201)

    async def list_posts(self, request: web.Request) -> web.Response:
        account = request.match_info["account"]
        key = request.query.get("publish_key")
        found = [p for p in self._account("generic", account) if key is None or p["publish_key"] == key]
        return web.json_response({"posts": found})

    async def get_post(self, request: web.Request) -> web.Response:
        remote_id = request.match_info["remote_id"]
        self._index()
        post = self._by_id.get(("*", remote_id))
        if post is not None:
            return web.json_response({**post, **self.counts_of(post)})
        return web.json_response({"error": "not_found"}, status=404)

    async def truth(self, _: web.Request) -> web.Response:
        return web.json_response({"posts": [p for p in self.posts if not p["seeded"]], "requests": self.requests})

    async def set_faults(self, request: web.Request) -> web.Response:
        try:
            self.faults = parse_faults((await request.json()).get("faults", ""))
        except (BadFaults, ValueError, AttributeError) as problem:
            return web.json_response({"error": str(problem)}, status=400)
        return web.json_response({"faults": self.faults})

    async def seed_endpoint(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.seed_history(str(body["platform"]), str(body["user"]), int(body["count"]), float(body.get("spread", 60)))
        return web.json_response({"seeded": int(body["count"])})

    async def revoke_endpoint(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.revoke(str(body["user"]), refresh_too=bool(body.get("refresh_too")))
        return web.json_response({"revoked": body["user"]})

    async def noise_endpoint(self, request: web.Request) -> web.Response:
        body = await request.json()
        accounts = [(str(platform), str(user)) for platform, user in body.get("accounts", [])]
        self.noise(accounts, float(body.get("per_second", 0)))
        return web.json_response({"accounts": len(accounts), "per_second": body.get("per_second", 0)})

    async def grant_endpoint(self, request: web.Request) -> web.Response:
        body = await request.json()
        return web.json_response(self.grant(str(body["user"]), expires_in=body.get("expires_in")))


async def start(simulator: Simulator, port: int = 0) -> tuple[web.AppRunner, int]:
    """Serve `simulator` on 127.0.0.1 (port 0: any free port); return the runner and port."""
    runner = web.AppRunner(simulator.app(), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    sockets = site._server.sockets  # type: ignore[union-attr]
    return runner, int(sockets[0].getsockname()[1])
