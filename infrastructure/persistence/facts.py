"""Reading the log for projections: straight from the library's events table.

Reading the table here (rather than through the library's recorder) skips building a UUID
and a Notification per row: a replay is mostly this loop. Positions are the library's
notification ids, which its recorders assign in commit order.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.persistence import Mapper

from infrastructure.persistence.connections import Cursor
from projections.facts import Fact, utc_text


def read_facts(cursor: Cursor, dialect: str, mapper: Mapper[Any], after: int, limit: int) -> list[Fact]:
    """The next `limit` events after position `after`."""
    if dialect == "postgres":
        cursor.execute(
            "SELECT notification_id, originator_id::text, originator_version, topic, state FROM herald_events"
            " WHERE notification_id > %s ORDER BY notification_id LIMIT %s",
            [after, limit],
        )
        return [fact_of(mapper, *found) for found in cursor.fetchall()]
    cursor.execute(
        "SELECT rowid, originator_id, originator_version, topic, state FROM stored_events"
        " WHERE rowid > %s ORDER BY rowid LIMIT %s",
        [after, limit],
    )
    return [fact_of(mapper, *found) for found in cursor.fetchall()]


def _dashed(hex_id: str) -> str:
    """The library stores UUIDs in SQLite as 32 hex digits; everywhere else they have dashes."""
    if len(hex_id) != 32:
        return hex_id
    return f"{hex_id[:8]}-{hex_id[8:12]}-{hex_id[12:16]}-{hex_id[16:20]}-{hex_id[20:]}"


def fact_of(mapper: Mapper[Any], position: int, aggregate_id: str, version: int, topic: str, state: bytes) -> Fact:
    """One stored event as a fact (SQLite's 32-digit ids get their dashes)."""
    aggregate_id = _dashed(str(aggregate_id))
    aggregate, _, name = topic.partition(":")[2].rpartition(".")
    try:
        if mapper.cipher:
            state = mapper.cipher.decrypt(state)
        if mapper.compressor:
            state = mapper.compressor.decompress(state)
        data = mapper.transcoder.decode(bytes(state))
        at = utc_text(data["timestamp"]) or ""
    except Exception as broken:  # one damaged row is set aside by each projection, never a stop
        problem = f"the stored event does not decode: {type(broken).__name__}: {broken}"
        return Fact(position, aggregate_id, version, aggregate, name, "", {}, problem[:500])
    return Fact(position, aggregate_id, version, aggregate, name, at, data)
