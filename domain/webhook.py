"""Webhook deliveries, both ways, as aggregates whose every attempt is an event.

An outbound delivery's id is derived from (endpoint, subject, event type): creating the same
announcement twice collides in the store, so a post's final outcome goes out exactly once.
An inbound delivery's id is derived from the sender's delivery id: a replay collides too.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING
from uuid import UUID

from domain.base import Aggregate
from domain.instants import require_utc

OUTBOUND = uuid.UUID("0b7c1f4e-9a3d-4e55-8f6a-2d1c0e9b7a41")
INBOUND = uuid.UUID("5e2a9c7d-1b4f-4c83-a6e0-7f3d2b1c9e58")


def delivery_id(endpoint_id: str, subject: str, event_type: str) -> UUID:
    return uuid.uuid5(OUTBOUND, f"{endpoint_id}/{subject}/{event_type}")


def inbound_id(source: str, sender_delivery_id: str) -> UUID:
    return uuid.uuid5(INBOUND, f"{source}/{sender_delivery_id}")


class WebhookDelivery(Aggregate):
    class Planned(Aggregate.Created):
        workspace: str
        endpoint_id: str
        url: str
        event_type: str
        subject: str
        body: str  # the exact JSON sent, byte for byte, on every attempt

        def apply(self, delivery: WebhookDelivery) -> None:
            delivery.workspace = self.workspace
            delivery.endpoint_id = self.endpoint_id
            delivery.url = self.url
            delivery.event_type = self.event_type
            delivery.subject = self.subject
            delivery.body = self.body
            delivery.attempts = 0
            delivery.state = "pending"
            delivery.next_attempt_at = self.timestamp

    class Attempted(Aggregate.Event):
        attempt: int
        http_status: int | None
        error: str | None
        succeeded: bool
        next_attempt_at: datetime | None  # None: no further attempt (succeeded, or given up)

        def apply(self, delivery: WebhookDelivery) -> None:
            delivery.attempts = self.attempt
            delivery.next_attempt_at = self.next_attempt_at
            if self.succeeded:
                delivery.state = "delivered"
            elif self.next_attempt_at is None:
                delivery.state = "gave_up"
            else:
                delivery.state = "pending"

    class Resent(Aggregate.Event):
        """An operator asked to send it again (`herald webhooks replay`)."""

        def apply(self, delivery: WebhookDelivery) -> None:
            delivery.state = "pending"
            delivery.next_attempt_at = self.timestamp

    if TYPE_CHECKING:
        workspace: str
        endpoint_id: str
        url: str
        event_type: str
        subject: str
        body: str
        attempts: int
        state: str
        next_attempt_at: datetime | None

    @classmethod
    def plan(
        cls, *, workspace: str, endpoint_id: str, url: str, event_type: str, subject: str, body: str, now: datetime
    ) -> WebhookDelivery:
        return cls._create(
            cls.Planned,
            id=delivery_id(endpoint_id, subject, event_type),
            timestamp=require_utc(now, field="now"),
            workspace=workspace,
            endpoint_id=endpoint_id,
            url=url,
            event_type=event_type,
            subject=subject,
            body=body,
        )

    def record_attempt(
        self, *, http_status: int | None, error: str | None, succeeded: bool, retry_at: datetime | None, now: datetime
    ) -> None:
        self.trigger_event(
            self.Attempted,
            timestamp=require_utc(now, field="now"),
            attempt=self.attempts + 1,
            http_status=http_status,
            error=error,
            succeeded=succeeded,
            next_attempt_at=None if succeeded else retry_at,
        )

    def resend(self, *, now: datetime) -> None:
        self.trigger_event(self.Resent, timestamp=require_utc(now, field="now"))


class InboundDelivery(Aggregate):
    class Received(Aggregate.Created):
        source: str
        sender_delivery_id: str
        sent_at: datetime
        body: str

        def apply(self, delivery: InboundDelivery) -> None:
            delivery.source = self.source
            delivery.body = self.body

    if TYPE_CHECKING:
        source: str
        body: str

    @classmethod
    def receive(
        cls, *, source: str, sender_delivery_id: str, sent_at: datetime, body: str, now: datetime
    ) -> InboundDelivery:
        return cls._create(
            cls.Received,
            id=inbound_id(source, sender_delivery_id),
            timestamp=require_utc(now, field="now"),
            source=source,
            sender_delivery_id=sender_delivery_id,
            sent_at=require_utc(sent_at, field="sent_at"),
            body=body,
        )
