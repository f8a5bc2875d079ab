"""Events as projections read them: the stored JSON, decoded once, with no model validation.

Projections fold plain facts (name, aggregate, version, instant, data) rather than pydantic
events: a replay over millions of events then costs a JSON decode per event, no more.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Fact:
    position: int
    aggregate_id: str  # a post's, an account's, a workspace's or a webhook delivery's id
    version: int
    aggregate: str  # the aggregate class: "Post", "Account", "WebhookDelivery"…
    name: str  # the event class name: "Scheduled", "DispatchClaimed", …
    at: str  # fixed-width ISO 8601 UTC (sorts as time does)
    data: dict[str, Any]
    problem: str | None = None  # the stored row does not decode: no projection can fold it


def utc_text(value: datetime | str | None) -> str | None:
    """An instant (a datetime, or as stored) as fixed-width UTC text, `2026-11-23T09:00:00.000000Z`:
    it sorts as time does, in both databases, so the read models store and compare instants so."""
    if value is None:
        return None
    if isinstance(value, str):
        if value.endswith("Z"):
            if len(value) == 27:
                return value
            if len(value) == 20:  # pydantic leaves out zero microseconds
                return value[:-1] + ".000000Z"
        value = datetime.fromisoformat(value)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def seconds_between(start: str, end: str) -> float:
    """The seconds from one stored instant to another."""
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
