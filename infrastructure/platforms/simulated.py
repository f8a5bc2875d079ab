"""The adapter for the simulator's own generic protocol (posts whose account is not connected)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import aiohttp

from domain.engagement import Counts
from domain.intent import PublishIntent
from domain.outcomes import Observation, Observed, RemotePart, Search
from infrastructure.platforms.http import Http, by_status, json_body, observed, reset_at


class SimulatedPlatform:
    """Publishes to and looks up on the platform simulator over real HTTP."""

    def __init__(
        self, base_url: str, session: aiohttp.ClientSession, clock: Callable[[], datetime], timeout: float = 5.0
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = Http(session, timeout=timeout)
        self.clock = clock

    async def publish(self, intent: PublishIntent) -> Observed:
        answer = await self.http.request(
            "POST",
            f"{self.base_url}/v1/accounts/{intent.account}/posts",
            headers={"Idempotency-Key": intent.publish_key},
            body=json_body({"text": intent.content.text, "publish_key": intent.publish_key}),
        )
        if isinstance(answer, Observed):
            return answer
        body = answer.body if isinstance(answer.body, dict) else {}
        if 200 <= answer.status < 300:
            remote_id = body.get("id")
            return observed(
                answer,
                Observation.ACCEPTED,
                remote_id=str(remote_id) if remote_id is not None else None,
                permalink=body.get("permalink"),
            )
        retry_at = reset_at(answer.headers.get("retry-after"), now=self.clock())
        code = str(body["error"]) if body.get("error") is not None else None
        if answer.status == 403 and code == "duplicate_content":
            return observed(answer, Observation.ALREADY_PUBLISHED, code)
        return by_status(answer, code, None, retry_at)

    async def counts(self, remote_id: str) -> Counts | None:
        """The generic platform's counts of one post (None: it has no such post)."""
        answer = await self.http.request("GET", f"{self.base_url}/v1/posts/{remote_id}")
        if isinstance(answer, Observed) or answer.status not in (200, 404):
            raise LookupError(f"the simulator did not answer: {answer}")
        if answer.status == 404:
            return None
        body = answer.body
        return Counts(likes=body["likes"], reposts=body["reposts"], replies=body["replies"])

    async def find(self, intent: PublishIntent) -> Search:
        """The post by its publish key, which the generic platform keeps: found, or certainly not there."""
        answer = await self.http.request(
            "GET", f"{self.base_url}/v1/accounts/{intent.account}/posts", params={"publish_key": intent.publish_key}
        )
        if isinstance(answer, Observed) or answer.status != 200:
            raise LookupError(f"the simulator did not answer the look-up: {answer}")
        posts = answer.body["posts"]
        found = tuple(RemotePart(part=1, remote_id=str(p["id"]), permalink=p.get("permalink")) for p in posts[:1])
        return Search(
            found=found,
            complete=True,
            how=f"found on the platform by publish key {intent.publish_key}"
            if found
            else f"no post with publish key {intent.publish_key} on the platform",
        )
