"""Webhooks: signing, deliveries as events, and inbound checks.

Outbound: a post's final outcome (delivered, failed, canceled), an ambiguity and an account's
disconnection become one planned delivery per subscribed endpoint (exactly once: the
delivery's id is derived from what it announces; see `projections/webhook_outbox.py`). Each
attempt is signed with HMAC-SHA256 over `timestamp + "." + raw body` and recorded as an event;
failures are retried with backoff.

Inbound: the signature is checked on the raw bytes in constant time, stale timestamps are
refused, delivery ids are deduplicated by the store, and the event is appended before any
side effect.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from domain.decisions import RetryPolicy
from domain.errors import HeraldError
from domain.webhook import InboundDelivery, WebhookDelivery, delivery_id
from services.ports import Clock, EventLog, system_clock

FRESH_FOR = timedelta(minutes=5)
POLICY = RetryPolicy(base_seconds=10, cap_seconds=3600, max_attempts=8, jitter=0.2)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature a receiver recomputes: hex HMAC-SHA256 of `timestamp + "." + body`."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


class SignatureInvalid(HeraldError):
    code = "signature_invalid"
    field = "Herald-Signature"


def verify(secret: str, timestamp: str, signature: str, body: bytes, now: datetime) -> datetime:
    """The sending instant, if the signature matches the raw bytes and is fresh; else refuse."""
    try:
        sent_at = datetime.fromtimestamp(int(timestamp), now.tzinfo)
    except (ValueError, OverflowError, OSError):
        raise SignatureInvalid("the timestamp is not a Unix time in seconds", field="Herald-Timestamp") from None
    expected = sign(secret, timestamp, body)
    if not hmac.compare_digest(expected, signature.removeprefix("v1=")):
        raise SignatureInvalid("the signature does not match the body")
    if abs(now - sent_at) > FRESH_FOR:
        raise SignatureInvalid("the timestamp is more than 5 minutes away from now", field="Herald-Timestamp")
    return sent_at


class WebhookService:
    def __init__(self, events: EventLog, *, clock: Clock = system_clock) -> None:
        self.events = events
        self.clock = clock

    def plan(
        self, *, workspace: str, endpoint_id: str, url: str, event_type: str, subject: str, payload: dict[str, Any]
    ) -> bool:
        """Plan one announcement; False if it was planned before (exactly once)."""
        body = json.dumps(
            {**payload, "delivery_id": str(delivery_id(endpoint_id, subject, event_type))},
            sort_keys=True,
            separators=(",", ":"),
        )
        delivery = WebhookDelivery.plan(
            workspace=workspace,
            endpoint_id=endpoint_id,
            url=url,
            event_type=event_type,
            subject=subject,
            body=body,
            now=self.clock(),
        )
        return self._save_once(delivery)

    def _save_once(self, aggregate: WebhookDelivery | InboundDelivery) -> bool:
        """Save a delivery whose id is derived from what it is; False if it exists already."""
        try:
            self.events.save(aggregate)
        except IntegrityError:
            return False
        return True

    def get(self, delivery: UUID) -> WebhookDelivery:
        found: WebhookDelivery = self.events.get(delivery)
        return found

    def record(self, delivery: WebhookDelivery, *, status: int | None, error: str | None) -> None:
        succeeded = status is not None and 200 <= status < 300
        retry_at = None
        if not succeeded and delivery.attempts + 1 < POLICY.max_attempts:
            retry_at = self.clock() + POLICY.delay(delivery.attempts + 1, int(delivery.id) % 2**32)
        delivery.record_attempt(
            http_status=status, error=error, succeeded=succeeded, retry_at=retry_at, now=self.clock()
        )
        self.events.save(delivery)

    def resend(self, delivery_ids: list[UUID]) -> int:
        count = 0
        for identity in delivery_ids:
            delivery = self.get(identity)
            delivery.resend(now=self.clock())
            self.events.save(delivery)
            count += 1
        return count

    def receive(self, *, source: str, sender_delivery_id: str, sent_at: datetime, body: bytes) -> bool:
        """Append the inbound delivery first; False if it was received before (a replay)."""
        delivery = InboundDelivery.receive(
            source=source,
            sender_delivery_id=sender_delivery_id,
            sent_at=sent_at,
            body=body.decode(errors="replace"),
            now=self.clock(),
        )
        return self._save_once(delivery)
