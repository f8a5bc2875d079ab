"""Webhooks: signing, the outbound sender, and inbound checks.

Outbound: the sender follows the event log; a post's final outcome (delivered, failed,
canceled), an ambiguity and an account's disconnection become one planned delivery per
subscribed endpoint (exactly once: the delivery's id is derived from what it announces). Each
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

import aiohttp
from eventsourcing.application import Application
from eventsourcing.persistence import IntegrityError

from domain.decisions import RetryPolicy
from domain.errors import HeraldError
from domain.webhook import InboundDelivery, WebhookDelivery, delivery_id
from projections.facts import Fact, fixed
from projections.read_store import Cursor
from services.post_service import Clock, system_clock

FRESH_FOR = timedelta(minutes=5)
POLICY = RetryPolicy(base_seconds=10, cap_seconds=3600, max_attempts=8, jitter=0.2)
ANNOUNCED = {
    ("Post", "Delivered"): "post.delivered",
    ("Post", "Failed"): "post.failed",
    ("Post", "Canceled"): "post.canceled",
    ("Post", "OutcomeAmbiguous"): "post.ambiguous",
    ("Account", "Disconnected"): "account.disconnected",
}


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


class WebhookService(Application[UUID]):
    name = "herald"

    def __init__(self, env: dict[str, str] | None = None, *, clock: Clock = system_clock) -> None:
        super().__init__(env)
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
            self.save(aggregate)
        except IntegrityError:
            return False
        return True

    def get(self, delivery: UUID) -> WebhookDelivery:
        found: WebhookDelivery = self.repository.get(delivery)
        return found

    def record(self, delivery: WebhookDelivery, *, status: int | None, error: str | None) -> None:
        succeeded = status is not None and 200 <= status < 300
        retry_at = None
        if not succeeded and delivery.attempts + 1 < POLICY.max_attempts:
            retry_at = self.clock() + POLICY.delay(delivery.attempts + 1, int(delivery.id) % 2**32)
        delivery.record_attempt(
            http_status=status, error=error, succeeded=succeeded, retry_at=retry_at, now=self.clock()
        )
        self.save(delivery)

    def resend(self, delivery_ids: list[UUID]) -> int:
        count = 0
        for identity in delivery_ids:
            delivery = self.get(identity)
            delivery.resend(now=self.clock())
            self.save(delivery)
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


class Webhooks:
    """Plans announcements as the log goes by, and keeps the outbox the sender works from.

    Planning is idempotent (a delivery's id is derived from what it announces), so a batch
    folded twice after a crash still announces each outcome once.
    """

    name = "webhooks"
    tables = ("webhook_subjects", "webhook_pending", "webhook_outbox")

    def __init__(self, service: WebhookService, endpoints_of: Any) -> None:
        self.service = service
        self.endpoints_of = endpoints_of  # workspace → [(endpoint_id, url, events)]

    def create(self, cursor: Cursor, suffix: str = "") -> None:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS webhook_subjects{suffix} (aggregate_id TEXT PRIMARY KEY, workspace TEXT,"
            " name TEXT)"
        )
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS webhook_outbox{suffix} (delivery_id TEXT PRIMARY KEY, workspace TEXT,"
            " state TEXT NOT NULL, next_attempt_at TEXT, planned_at TEXT NOT NULL)"
        )
        cursor.execute(
            f"CREATE INDEX IF NOT EXISTS webhook_outbox{suffix}_due ON webhook_outbox{suffix} (state, next_attempt_at)"
        )
        # announcements waiting to be planned: planning appends events, which on SQLite must wait
        # until this projection's transaction has committed
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS webhook_pending{suffix} (delivery_id TEXT PRIMARY KEY, workspace TEXT,"
            " endpoint_id TEXT, url TEXT, event_type TEXT, subject TEXT, payload TEXT)"
        )

    def apply(self, cursor: Cursor, facts: list[Fact], suffix: str = "") -> None:
        for fact in facts:
            if fact.name in ("Drafted", "Connected"):
                cursor.execute(
                    f"INSERT INTO webhook_subjects{suffix} (aggregate_id, workspace, name) VALUES (%s, %s, %s)"
                    " ON CONFLICT (aggregate_id) DO NOTHING",
                    [fact.post_id, fact.data["workspace"], fact.data.get("name")],
                )
            elif fact.aggregate == "WebhookDelivery":
                self._outbox(cursor, fact, suffix)
            elif (fact.aggregate, fact.name) in ANNOUNCED:
                self._announce(cursor, fact, suffix)

    def _announce(self, cursor: Cursor, fact: Fact, suffix: str) -> None:
        cursor.execute(f"SELECT workspace, name FROM webhook_subjects{suffix} WHERE aggregate_id = %s", [fact.post_id])
        found = cursor.fetchone()
        if not found:
            return
        workspace, name = found
        event_type = ANNOUNCED[(fact.aggregate, fact.name)]
        subject = f"{fact.post_id}@{fact.version}" if event_type == "post.ambiguous" else fact.post_id
        keep = ("remote_id", "permalink", "reason", "remediation", "reconciled", "attempt")
        payload = {"type": event_type, "at": fact.at, "data": {k: v for k, v in fact.data.items() if k in keep}}
        payload["post_id" if fact.aggregate == "Post" else "account"] = (
            fact.post_id if fact.aggregate == "Post" else name
        )
        for endpoint_id, url, events in self.endpoints_of(workspace):
            if event_type in events:
                cursor.execute(
                    f"INSERT INTO webhook_pending{suffix} (delivery_id, workspace, endpoint_id, url, event_type,"
                    " subject, payload) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (delivery_id) DO NOTHING",
                    [
                        str(delivery_id(endpoint_id, subject, event_type)),
                        workspace,
                        endpoint_id,
                        url,
                        event_type,
                        subject,
                        json.dumps(payload),
                    ],
                )

    @staticmethod
    def _outbox(cursor: Cursor, fact: Fact, suffix: str) -> None:
        if fact.name == "Planned":
            cursor.execute(
                f"INSERT INTO webhook_outbox{suffix} (delivery_id, workspace, state, next_attempt_at, planned_at)"
                " VALUES (%s, %s, 'pending', %s, %s) ON CONFLICT (delivery_id) DO NOTHING",
                [fact.post_id, fact.data["workspace"], fact.at, fact.at],
            )
        elif fact.name == "Attempted":
            retry = fixed(fact.data["next_attempt_at"])
            state = "delivered" if fact.data["succeeded"] else ("pending" if retry else "gave_up")
            cursor.execute(
                f"UPDATE webhook_outbox{suffix} SET state = %s, next_attempt_at = %s WHERE delivery_id = %s",
                [state, retry, fact.post_id],
            )
        elif fact.name == "Resent":
            cursor.execute(
                f"UPDATE webhook_outbox{suffix} SET state = 'pending', next_attempt_at = %s WHERE delivery_id = %s",
                [fact.at, fact.post_id],
            )


async def send(
    session: aiohttp.ClientSession, delivery: WebhookDelivery, secret: str, now: datetime, timeout: float = 10.0
) -> tuple[int | None, str | None]:
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
        async with session.post(
            delivery.url, data=body, headers=headers, timeout=aiohttp.ClientTimeout(total=timeout)
        ) as answer:
            return answer.status, None
    except (aiohttp.ClientError, TimeoutError) as problem:
        return None, type(problem).__name__
