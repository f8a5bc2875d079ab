"""The adapter for the simulator's own protocol, and the outcome classification of HTTP."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import aiohttp

from domain.intent import PublishIntent
from domain.outcomes import Observation, Observed, RemotePost


def classify(status: int, body: dict[str, object], retry_after: str | None, now: datetime) -> Observed:
    """An HTTP answer as an observation (DESIGN.md's outcome table)."""
    code = str(body.get("error")) if body.get("error") is not None else None
    if 200 <= status < 300:
        remote_id = body.get("id")
        return Observed(
            kind=Observation.ACCEPTED,
            http_status=status,
            remote_id=str(remote_id) if remote_id is not None else None,
            permalink=str(body["permalink"]) if body.get("permalink") else None,
        )
    if status == 429:
        retry_at = None
        if retry_after and retry_after.strip().isdigit():
            retry_at = now + timedelta(seconds=int(retry_after))
        return Observed(kind=Observation.RATE_LIMITED, http_status=status, platform_code=code, retry_at=retry_at)
    if status >= 500:
        return Observed(kind=Observation.SERVER_ERROR, http_status=status, platform_code=code)
    if status == 401:
        return Observed(kind=Observation.AUTH_REVOKED, http_status=status, platform_code=code)
    return Observed(kind=Observation.REJECTED, http_status=status, platform_code=code)


class SimulatedPlatform:
    """Publishes to and looks up on the platform simulator over real HTTP."""

    def __init__(
        self,
        base_url: str,
        session: aiohttp.ClientSession,
        clock: Callable[[], datetime],
        timeout: float = 5.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = session
        self.clock = clock
        self.timeout = aiohttp.ClientTimeout(total=timeout)

    async def publish(self, intent: PublishIntent) -> Observed:
        url = f"{self.base_url}/v1/accounts/{intent.account}/posts"
        body = {"text": intent.content.text, "publish_key": intent.publish_key}
        headers = {"Idempotency-Key": intent.publish_key}
        try:
            async with self.session.post(url, json=body, headers=headers, timeout=self.timeout) as answer:
                try:
                    payload = await answer.json(content_type=None)
                except ValueError:
                    payload = {}
                return classify(answer.status, payload or {}, answer.headers.get("Retry-After"), self.clock())
        except aiohttp.ClientConnectorError as problem:
            return Observed(kind=Observation.CONNECT_ERROR, message=str(problem)[:200])
        except (TimeoutError, aiohttp.ClientError) as problem:
            # the request left: it may have landed; only the reconciler can tell
            return Observed(kind=Observation.TIMEOUT_AFTER_SEND, message=type(problem).__name__)

    async def find(self, intent: PublishIntent) -> RemotePost | None:
        url = f"{self.base_url}/v1/accounts/{intent.account}/posts"
        async with self.session.get(url, params={"publish_key": intent.publish_key}, timeout=self.timeout) as answer:
            answer.raise_for_status()
            posts = (await answer.json())["posts"]
        if not posts:
            return None
        return RemotePost(remote_id=str(posts[0]["id"]), permalink=posts[0].get("permalink"))
