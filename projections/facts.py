"""Events as projections read them: the stored JSON, decoded once, with no model validation.

Projections fold plain facts (name, post, version, instant, data) rather than pydantic
events: a replay over millions of events then costs a JSON decode per event, no more.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from eventsourcing.persistence import Mapper


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
    if stamp.endswith("Z"):
        if len(stamp) == 27:
            return stamp
        if len(stamp) == 20:  # pydantic leaves out zero microseconds
            return stamp[:-1] + ".000000Z"
    return datetime.fromisoformat(stamp).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def read_facts(cursor: Any, dialect: str, mapper: Mapper[Any], after: int, limit: int) -> list[Fact]:
    """The next `limit` events after position `after`, read straight from the events table.

    Reading the table here (rather than through the library's recorder) skips building a UUID
    and a Notification per row: a replay is mostly this loop. Positions are the library's
    notification ids, which its recorders assign in commit order.
    """
    if dialect == "postgres":
        cursor.execute(
            "SELECT notification_id, originator_id::text, originator_version, topic, state FROM herald_events"
            " WHERE notification_id > %s ORDER BY notification_id LIMIT %s",
            [after, limit],
        )
    else:
        cursor.execute(
            "SELECT rowid, originator_id, originator_version, topic, state FROM stored_events"
            " WHERE rowid > %s ORDER BY rowid LIMIT %s",
            [after, limit],
        )
        return [_fact(mapper, n, _dashed(i), v, t, s) for n, i, v, t, s in cursor.fetchall()]
    return [_fact(mapper, *found) for found in cursor.fetchall()]


def _dashed(hex_id: str) -> str:
    """The library stores UUIDs in SQLite as 32 hex digits; everywhere else they have dashes."""
    if len(hex_id) != 32:
        return hex_id
    return f"{hex_id[:8]}-{hex_id[8:12]}-{hex_id[12:16]}-{hex_id[16:20]}-{hex_id[20:]}"


def _fact(mapper: Mapper[Any], position: int, post_id: str, version: int, topic: str, state: bytes) -> Fact:
    if mapper.cipher:
        state = mapper.cipher.decrypt(state)
    if mapper.compressor:
        state = mapper.compressor.decompress(state)
    data = mapper.transcoder.decode(bytes(state))
    aggregate, _, name = topic.partition(":")[2].rpartition(".")
    return Fact(position, post_id, version, aggregate, name, fixed(data["timestamp"]) or "", data)
