"""Rebuilding the due index and the timeline inside PostgreSQL: the same folds, written in SQL.

The Python folds (`projections.due_index.changes`, `projections.timeline.stored`) define the
projections and keep them up to date; the states come from the lifecycle table in
`domain/post.py`, as the Python folds' do. A replay on PostgreSQL instead runs these
statements, so no event travels to Python: the server folds a range of posts per statement.
Both read each event's instant from its bytes and decode only the events whose data they
use (`_events`): the due index those it reads a field from, the timeline the few whose
data it keeps.
`tests/integration/test_projections.py` replays logs holding every kind of event this way
and compares every row with what the Python fold wrote. Events sealed by a cipher or
compressor cannot be read here; `replay` then takes the Python path."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

from domain.post import Post
from infrastructure.persistence.connections import Cursor
from projections.due_index import COLUMNS as DUE_COLUMNS
from projections.due_index import STATE
from projections.facts import utc_text
from projections.timeline import ENDED
from projections.timeline import STORED as TIMELINE_STORED

DUE_AT, DEADLINE = "j->>'due_at'", "j->>'deadline'"
NEXT_ATTEMPT_AT, LEASE_UNTIL, ATTEMPT = "j->>'next_attempt_at'", "j->>'lease_until'", "(j->>'attempt')::int"
CHUNKS = 16  # posts are folded in ranges of their ids: progress to show, and sorts that fit in memory


def fixed(expr: str) -> str:
    """SQL for `projections.facts.utc_text`: an instant as fixed-width UTC text (pydantic drops zero microseconds)."""
    return (
        f"(CASE WHEN length({expr}) = 27 AND right({expr}, 1) = 'Z' THEN {expr}"
        f" WHEN length({expr}) = 20 AND right({expr}, 1) = 'Z' THEN left({expr}, 19) || '.000000Z'"
        f" ELSE to_char(({expr})::timestamptz AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') END)"
    )


# an event's instant, read from its bytes: the log's encoder writes it first, so `{"timestamp":"`
# and the text up to the next quote are the value (an instant holds no quote or escape); any
# other layout is decoded
PREFIX = "'\\x" + b'{"timestamp":"'.hex() + "'::bytea"
INSTANT = (
    f"(CASE WHEN substring(h.state FROM 1 FOR 14) = {PREFIX}"
    " THEN convert_from(substring(h.state FROM 15"
    " FOR position('\\x22'::bytea IN substring(h.state FROM 15 FOR 64)) - 1), 'UTF8')"
    " ELSE convert_from(h.state, 'UTF8')::jsonb->>'timestamp' END)"
)
AT = fixed("n.instant")


def _events(until: bool, decoded: Iterable[str], padded: bool = False) -> str:
    """FROM and WHERE over the post events of a range of post ids, with the event's `name` and
    `instant` (read from its bytes), its data `j`, decoded only for the events named in
    `decoded` (NULL for the others: decoding is most of a fold's cost), and if `padded` its
    version as zero-padded text `v`; each computed once per row (`OFFSET 0` keeps the planner
    from inlining them into every reference)."""
    stored = (
        "SELECT notification_id, originator_id, originator_version, topic, state FROM herald_events"
        " WHERE originator_id BETWEEN %s AND %s AND notification_id + 0 <= %s"
        " AND split_part(split_part(topic, ':', 2), '.', 1) = 'Post'"
        " ORDER BY originator_id, originator_version OFFSET 0"  # sorted before decoding: narrower rows
    )
    pad = f", lpad({VERSION}::text, 12, '0') AS v" if padded else ""
    named = f"SELECT split_part(split_part(h.topic, ':', 2), '.', 2) AS name, {INSTANT} AS instant{pad} OFFSET 0"
    data = f"SELECT CASE WHEN n.{_among(decoded)} THEN convert_from(h.state, 'UTF8')::jsonb END AS j OFFSET 0"
    keep = f" WHERE {AT} <= %s" if until else ""
    return f" FROM ({stored}) AS h CROSS JOIN LATERAL ({named}) AS n CROSS JOIN LATERAL ({data}) AS d" + keep


POSITION, POST_ID, VERSION = "h.notification_id", "h.originator_id::text", "h.originator_version"
ID = "h.originator_id"


def _last(values: tuple[str, ...], names: tuple[str, ...], nth: int = 0) -> str:
    """The text the post's latest event among `names` set in the `nth` of `values` (NULL if none
    of them happened, or it set NULL).

    The greatest [padded version, *values] array is the latest event's: a plain `max`, cheaper
    than an ordered aggregate (which sorts once per post and column). Columns set by the same
    events share one array: PostgreSQL computes an aggregate written twice only once."""
    texts = ", ".join(f"({value})::text" for value in values)
    return f"(max(ARRAY[n.v, {texts}]) FILTER (WHERE {_among(names)}))[{nth + 2}]"


def _among(names: Iterable[str]) -> str:
    return "name IN (" + ", ".join(f"'{n}'" for n in names) + ")"


SCHEDULING = (Post.Scheduled.__name__, Post.Rescheduled.__name__)
RETRYING = (Post.AttemptFailed.__name__, Post.ReleasedForRetry.__name__)
REQUEUED = (Post.ClaimAbandoned.__name__, Post.HoldReleased.__name__, Post.SettledNotLive.__name__)  # at once
WAITING = (Post.Held.__name__, Post.AttentionNeeded.__name__)
CLAIMED = Post.DispatchClaimed.__name__


# the events whose data the due index reads: the rest (deliveries, outcomes, edits…) change
# only its state, version and instants, which come from the name and the bytes
DUE_DECODED = (Post.Drafted.__name__, *SCHEDULING, *RETRYING, *WAITING, CLAIMED)


def _case(mapping: dict[str, str]) -> str:
    return "CASE name " + " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in mapping.items()) + " END"


def _due_index(until: bool) -> str:
    drafted = f"FILTER (WHERE name = '{Post.Drafted.__name__}')"
    state, lease = _case(STATE), f"CASE WHEN name = '{CLAIMED}' THEN {fixed(LEASE_UNTIL)} END"
    times = (fixed(DUE_AT), fixed(DEADLINE))
    values = {
        "created": f"min({POSITION}) {drafted}",
        "workspace": f"min(j->>'workspace') {drafted}",
        "account": f"min(j->>'account') {drafted}",
        "platform": f"min(j->>'platform') {drafted}",
        "external_id": f"min(j->>'external_id') {drafted}",
        "state": _last((state, lease), tuple(STATE)),
        "attempt": f"coalesce({_last((ATTEMPT,), (CLAIMED,))}::int, 0)",
        "due_at": _last(times, SCHEDULING),
        "not_before": _last(
            (
                f"CASE WHEN {_among(SCHEDULING)} THEN {fixed(DUE_AT)} WHEN {_among(RETRYING)} "
                f"THEN {fixed(NEXT_ATTEMPT_AT)} ELSE {AT} END",
            ),
            SCHEDULING + RETRYING + REQUEUED,
        ),
        "deadline": _last(times, SCHEDULING, 1),
        # every change of state but a claim ends the lease (as `due_index.changes` says)
        "lease_until": _last((state, lease), tuple(STATE), 1),
        # every change of state clears what the post waited for; a hold or a call for support sets it
        "waiting_for": _last((f"CASE WHEN {_among(WAITING)} THEN j->>'reason' END",), (*STATE, *WAITING)),
        "version": f"max({VERSION})",
        "changed_at": f"(max(ARRAY[n.v, {AT}]))[2]",
    }
    assert tuple(values) == DUE_COLUMNS
    return (
        f"INSERT INTO due_index{{suffix}} (post_id, {', '.join(values)})"
        f" SELECT {POST_ID}, {', '.join(values.values())}{_events(until, DUE_DECODED, padded=True)}"
        f" GROUP BY {ID} HAVING bool_or(name = '{Post.Drafted.__name__}')"
    )


def _state_so_far(post: str) -> str:
    """The state the latest state-setting event so far left (the state before, for an event
    that sets none): the running max of version * 64 + the state's number, an integer, so the
    window compares integers rather than building and comparing an array per row."""
    states = sorted(set(STATE.values()))
    number = "CASE name " + " ".join(f"WHEN '{k}' THEN {states.index(v)}" for k, v in STATE.items()) + " END"
    names = "ARRAY[" + ", ".join(f"'{state}'" for state in states) + "]"
    return f"coalesce(({names})[max({VERSION}::bigint * 64 + {number}) {post} %% 64 + 1], 'draft')"


def _timeline(until: bool) -> str:
    post = f"OVER (PARTITION BY {ID} ORDER BY {VERSION})"  # each event, with its post's events before it
    values = {
        "post_id": POST_ID,
        "version": VERSION,
        "at": AT,
        "event": "name",
        "state": _state_so_far(post),
        # a post's first event is always its Drafted, the only one that names them
        "workspace": f"max(j->>'workspace') {post}",
        "external_id": f"max(j->>'external_id') {post}",
        "reason": f"CASE WHEN {_among(ENDED)} THEN j->>'reason' END",
    }
    assert tuple(values) == TIMELINE_STORED
    source = _events(until, (Post.Drafted.__name__, *ENDED))  # the events whose data the table keeps
    return f"INSERT INTO timeline{{suffix}} ({', '.join(values)}) SELECT {', '.join(values.values())}{source}"


FOLDS = {"due_index": _due_index, "timeline": _timeline}


def can_fold(projection_name: str, mapper: Any) -> bool:
    """Whether this projection can be rebuilt in the database (plain JSON events only)."""
    return projection_name in FOLDS and not mapper.cipher and not mapper.compressor


def fold(cursor: Cursor, projection_name: str, suffix: str, upto: int, until: datetime | None, chunk: int) -> None:
    """Fold the events up to position `upto` of the posts in id range `chunk` (of CHUNKS)."""
    step = (1 << 128) // CHUNKS
    low, high = UUID(int=chunk * step), UUID(int=min((chunk + 1) * step, 1 << 128) - 1)
    sql = FOLDS[projection_name](until is not None).replace("{suffix}", suffix)
    cursor.execute("SET LOCAL work_mem = '64MB'")
    # read the range in the key's order from the index: the planner underestimates the rows
    # (its guess for the topic filter) and picks a bitmap scan and a sort, 2-3 times slower
    cursor.execute("SET LOCAL enable_bitmapscan = off")
    cursor.execute(sql, [low, high, upto] + ([utc_text(until)] if until else []))  # in `_events`' order
