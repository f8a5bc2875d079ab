"""Events as projections read them: the stored JSON, decoded once, with no model validation.

Projections fold plain facts (name, post, version, instant, data) rather than pydantic
events: a replay over millions of events then costs a JSON decode per event, no more.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from eventsourcing.persistence import Mapper, Notification


@dataclass(frozen=True, slots=True)
class Fact:
    position: int
    post_id: str
    version: int
    aggregate: str  # "Post"
    name: str  # the event class name: "Scheduled", "DispatchClaimed", ...
    at: str  # fixed-width ISO 8601 UTC (sorts as time does)
    data: dict[str, Any]


def fixed(stamp: str | None) -> str | None:
    """Stored instants as fixed-width UTC text: `2026-11-23T09:00:00.000000Z`."""
    if stamp is None:
        return None
    if len(stamp) == 27 and stamp.endswith("Z"):
        return stamp
    return datetime.fromisoformat(stamp).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def decode(notifications: Sequence[Notification], mapper: Mapper[Any]) -> list[Fact]:
    facts = []
    decode_json = mapper.transcoder.decode
    for notification in notifications:
        state = notification.state
        if mapper.cipher:
            state = mapper.cipher.decrypt(state)
        if mapper.compressor:
            state = mapper.compressor.decompress(state)
        data = decode_json(state)
        aggregate, _, name = notification.topic.partition(":")[2].rpartition(".")
        facts.append(
            Fact(
                position=notification.id,
                post_id=str(notification.originator_id),
                version=notification.originator_version,
                aggregate=aggregate,
                name=name,
                at=fixed(data["timestamp"]) or "",
                data=data,
            )
        )
    return facts
