"""Sending one webhook delivery over HTTP: the exact stored body, signed."""

from __future__ import annotations

from datetime import datetime

import aiohttp

from domain.webhook import WebhookDelivery
from services.webhooks import sign


class WebhookClient:
    def __init__(self, session: aiohttp.ClientSession, timeout: float = 10.0) -> None:
        self.session = session
        self.timeout = aiohttp.ClientTimeout(total=timeout)

    async def __call__(self, delivery: WebhookDelivery, secret: str, now: datetime) -> tuple[int | None, str | None]:
        """POST the delivery's exact body, signed; the receiver's status, or the error."""
        timestamp = str(int(now.timestamp()))
        body = delivery.body.encode()
        headers = {
            "Content-Type": "application/json",
            "Herald-Timestamp": timestamp,
            "Herald-Signature": "v1=" + sign(secret, timestamp, body),
            "Herald-Delivery-Id": str(delivery.id),
            "Herald-Event": delivery.event_type,
        }
        try:
            async with self.session.post(
                delivery.url, data=body, headers=headers, timeout=self.timeout, allow_redirects=False
            ) as answer:
                return answer.status, None
        except (aiohttp.ClientError, TimeoutError) as problem:
            return None, f"{type(problem).__name__}: {problem}"[:200]
