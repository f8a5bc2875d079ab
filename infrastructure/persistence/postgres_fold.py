"""Rebuilding the due index and the timeline inside PostgreSQL: the same folds, written in SQL.

The Python folds (`projections.due_index.changes`, `projections.timeline.row`) define the
projections and keep them up to date; the states come from the lifecycle table in
`domain/post.py`, as the Python folds' do. A replay on PostgreSQL instead runs these statements, so no event travels to
Python: the server decodes each event's JSON once and folds a range of posts per statement.
`tests/integration/test_projections.py` replays logs holding every kind of event this way
and compares every row with what the Python fold wrote. Events sealed by a cipher or
compressor cannot be read here; `replay` then takes the Python path.
"""

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
from projections.timeline import COLUMNS as TIMELINE_COLUMNS
from projections.timeline import ENDED

TIMESTAMP, DUE_AT, DEADLINE = "j->>'timestamp'", "j->>'due_at'", "j->>'deadline'"
NEXT_ATTEMPT_AT, LEASE_UNTIL, ATTEMPT = "j->>'next_attempt_at'", "j->>'lease_until'", "(j->>'attempt')::int"
CHUNKS = 16  # posts are folded in ranges of their ids: progress to show, and sorts that fit in memory


def fixed(expr: str) -> str:
    """SQL for `projections.facts.utc_text`: an instant as fixed-width UTC text (pydantic drops zero microseconds)."""
    return (
        f"(CASE WHEN length({expr}) = 27 AND right({expr}, 1) = 'Z' THEN {expr}"
        f" WHEN length({expr}) = 20 AND right({expr}, 1) = 'Z' THEN left({expr}, 19) || '.000000Z'"
        f" ELSE to_char(({expr})::timestamptz AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') END)"
    )


def _events(until: bool) -> str:
    """FROM and WHERE over the post events of a range of post ids, with the decoded data `j`,
    the event's `name` and instant `at` computed once per row (`OFFSET 0` keeps the planner
    from inlining them into every reference)."""
    decoded = (
        "SELECT convert_from(h.state, 'UTF8')::jsonb AS j,"
        " split_part(split_part(h.topic, ':', 2), '.', 2) AS name OFFSET 0"
    )
    stored = (
        "SELECT notification_id, originator_id, originator_version, topic, state FROM herald_events"
        " WHERE originator_id BETWEEN %s AND %s AND notification_id + 0 <= %s"
        " AND split_part(split_part(topic, ':', 2), '.', 1) = 'Post'"
        " ORDER BY originator_id, originator_version OFFSET 0"  # sorted before decoding: narrower rows
    )
    keep = f" WHERE {fixed(TIMESTAMP)} <= %s" if until else ""
    return f" FROM ({stored}) AS h CROSS JOIN LATERAL ({decoded}) AS d" + keep


POSITION, POST_ID, VERSION = "h.notification_id", "h.originator_id::text", "h.originator_version"
ID = "h.originator_id"


def _last(value: str, names: tuple[str, ...]) -> str:
    """The text the post's latest event among `names` set (NULL if none of them happened, or it set NULL).

    The greatest [zero-padded version, value] pair is the latest event's: a plain `max`, cheaper
    than an ordered aggregate (which sorts once per post and column)."""
    return f"(max(ARRAY[lpad({VERSION}::text, 12, '0'), ({value})::text]) FILTER (WHERE {_among(names)}))[2]"


def _among(names: Iterable[str]) -> str:
    return "name IN (" + ", ".join(f"'{n}'" for n in names) + ")"


SCHEDULING = (Post.Scheduled.__name__, Post.Rescheduled.__name__)
RETRYING = (Post.AttemptFailed.__name__, Post.ReleasedForRetry.__name__)
REQUEUED = (Post.ClaimAbandoned.__name__, Post.HoldReleased.__name__, Post.SettledNotLive.__name__)  # at once
WAITING = (Post.Held.__name__, Post.AttentionNeeded.__name__)
CLAIMED = Post.DispatchClaimed.__name__


def _case(mapping: dict[str, str]) -> str:
    return "CASE name " + " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in mapping.items()) + " END"


def _due_index(until: bool) -> str:
    drafted = f"FILTER (WHERE name = '{Post.Drafted.__name__}')"
    values = {
        "created": f"min({POSITION}) {drafted}",
        "workspace": f"min(j->>'workspace') {drafted}",
        "account": f"min(j->>'account') {drafted}",
        "platform": f"min(j->>'platform') {drafted}",
        "external_id": f"min(j->>'external_id') {drafted}",
        "state": _last(_case(STATE), tuple(STATE)),
        "attempt": f"coalesce({_last(ATTEMPT, (CLAIMED,))}::int, 0)",
        "due_at": _last(fixed(DUE_AT), SCHEDULING),
        "not_before": _last(
            f"CASE WHEN {_among(SCHEDULING)} THEN {fixed(DUE_AT)} WHEN {_among(RETRYING)} THEN {fixed(NEXT_ATTEMPT_AT)}"
            f" ELSE {fixed(TIMESTAMP)} END",
            SCHEDULING + RETRYING + REQUEUED,
        ),
        "deadline": _last(fixed(DEADLINE), SCHEDULING),
        # every change of state but a claim ends the lease (as `due_index.changes` says)
        "lease_until": _last(f"CASE WHEN name = '{CLAIMED}' THEN {fixed(LEASE_UNTIL)} END", tuple(STATE)),
        # every change of state clears what the post waited for; a hold or a call for support sets it
        "waiting_for": _last(f"CASE WHEN {_among(WAITING)} THEN j->>'reason' END", (*STATE, *WAITING)),
        "version": f"max({VERSION})",
        "changed_at": f"(max(ARRAY[lpad({VERSION}::text, 12, '0'), {fixed(TIMESTAMP)}]))[2]",
    }
    assert tuple(values) == DUE_COLUMNS
    return (
        f"INSERT INTO due_index{{suffix}} (post_id, {', '.join(values)})"
        f" SELECT {POST_ID}, {', '.join(values.values())}{_events(until)}"
        f" GROUP BY {ID} HAVING bool_or(name = '{Post.Drafted.__name__}')"
    )


def _text(expr: str) -> str:
    """A value as Python's f-string shows it: None for a missing one."""
    return f"coalesce({expr}, 'None')"


STATUS = (
    "(CASE WHEN coalesce(nullif(j->'observed'->>'http_status', '0'), '') <> ''"
    " OR coalesce(j->'observed'->>'platform_code', '') <> ''"
    " THEN ' (' || concat_ws(', ', 'HTTP ' || nullif(nullif(j->'observed'->>'http_status', '0'), ''),"
    " 'code ' || nullif(j->'observed'->>'platform_code', '')) || ')' ELSE '' END)"
)


def _explanation() -> str:
    """SQL for the sentence `timeline.explain` writes."""

    def d(key: str) -> str:
        return _text(f"j->>'{key}'")

    attempt = f"'attempt ' || {d('attempt')}"
    return (
        "CASE name"
        f" WHEN 'Drafted' THEN 'drafted for ' || {d('account')} || ' on ' || {d('platform')}"
        " || coalesce(', to send failed post ' || (j->>'redrive_of') || ' again', '')"
        " WHEN 'Scheduled' THEN (CASE WHEN (j->>'publish_now')::boolean THEN 'queued to publish now'"
        f" ELSE 'scheduled for ' || {d('due_at')} END) || '; it fails rather than go out after ' || {d('deadline')}"
        f" WHEN 'ContentEdited' THEN 'content edited (version ' || {d('content_version')}"
        " || '); a new publish key makes it a new intent'"
        f" WHEN 'Rescheduled' THEN 'moved from ' || {d('previous_due_at')} || ' to ' || {d('due_at')}"
        f" WHEN 'Canceled' THEN 'canceled while ' || {d('previous_state')} || ': ' || {d('reason')}"
        f" WHEN 'DispatchClaimed' THEN {attempt} || ' claimed by ' || {d('worker')}"
        f" || ', lease until ' || {d('lease_until')}"
        f" WHEN 'ClaimAbandoned' THEN {attempt} || ' was never sent (' || {d('reason')} || '); queued again at once'"
        f" WHEN 'ContainerPrepared' THEN {attempt} || ' prepared container ' || {d('container_id')}"
        " || ' for part ' || coalesce(j->>'part', '1') || '; only publishing it is visible'"
        f" WHEN 'PartPublished' THEN {attempt} || ': part ' || {d('part')} || ' is live as ' || {d('remote_id')}"
        f" WHEN 'MediaUploaded' THEN {attempt} || ' uploaded file ' || ((j->>'index')::int + 1) || ' of part '"
        f" || {d('part')} || ' as ' || {d('remote_media_id')}"
        " || coalesce(', usable until ' || (j->>'expires_at'), '')"
        f" WHEN 'FirstCommentPosted' THEN {attempt} || ': the first comment is live as ' || {d('remote_id')}"
        " WHEN 'ApprovalRequested' THEN 'waiting for an approver before it is queued '"
        f" || CASE WHEN (j->>'publish_now')::boolean THEN 'now' ELSE 'for ' || {d('due_at')} END"
        f" WHEN 'Approved' THEN 'approved by ' || {d('actor')} || coalesce(': ' || nullif(j->>'comment', ''), '')"
        f" WHEN 'Rejected' THEN 'sent back to draft by ' || {d('actor')}"
        " || coalesce(': ' || nullif(j->>'comment', ''), '')"
        f" WHEN 'Redriven' THEN 'sent again as post ' || {d('new_post_id')} || ', by ' || {d('actor')}"
        f" WHEN 'FirstCommentFailed' THEN {attempt} || ': the first comment did not go (' || {d('reason')}"
        " || '); the post stands'"
        " WHEN 'Delivered' THEN CASE WHEN (j->>'reconciled')::boolean"
        f" THEN 'the reconciler confirmed ' || {attempt} || ' is on the platform as ' || {d('remote_id')}"
        f" || ': ' || {d('evidence')} ELSE {attempt} || ' delivered as ' || {d('remote_id')} END"
        " WHEN 'AttemptFailed' THEN CASE j->'observed'->>'kind'"
        f" WHEN 'rate_limited' THEN {attempt} || ' was rate-limited' || {STATUS}"
        f" || '; waiting for the reset at ' || {d('next_attempt_at')}"
        f" WHEN 'connect_error' THEN {attempt} || ' could not connect, so nothing was sent; retrying at '"
        f" || {d('next_attempt_at')}"
        f" ELSE {attempt} || ' failed' || {STATUS} || '; retrying at ' || {d('next_attempt_at')}"
        " || ' with the same key' END"
        " WHEN 'OutcomeAmbiguous' THEN (CASE j->>'reason'"
        f" WHEN 'lease_expired' THEN {attempt} || '''s lease ran out with no report (the worker died?)'"
        f" WHEN 'timeout_after_send' THEN {attempt} || ' timed out after the request was sent'"
        f" WHEN 'already_published' THEN 'the platform said ' || {attempt} || ' is already published'"
        f" WHEN 'retries_exhausted' THEN {attempt} || ' was the last try, and an attempt may have landed'"
        f" WHEN 'deadline_passed' THEN 'the deadline passed after ' || {attempt} || ', which may have landed'"
        f" ELSE {attempt} || ' ended unclearly (' || {d('reason')} || ')' END)"
        " || '; outcome unknown, handed to the reconciler'"
        f" WHEN 'ReleasedForRetry' THEN 'the reconciler found no trace of ' || {attempt} || ' ('"
        f" || {d('evidence')} || '); released to retry with the same key'"
        f" WHEN 'AttentionNeeded' THEN 'the reconciler cannot settle ' || {attempt} || ' (' || {d('reason')}"
        f" || ': ' || {d('evidence')} || '). ' || {d('remediation')}"
        f" WHEN 'SettledLive' THEN 'settled by ' || {d('actor')} || ': live as ' || {d('remote_id')}"
        f" || ' (' || {d('note')} || ')'"
        f" WHEN 'SettledNotLive' THEN 'settled by ' || {d('actor')} || ': not on the platform (' || {d('note')}"
        " || '); queued again under the same key'"
        f" WHEN 'Held' THEN 'held (' || {d('reason')} || {STATUS} || '): ' || {d('detail')} || '. '"
        f" || {d('remediation')}"
        f" WHEN 'HoldReleased' THEN 'released: ' || {d('evidence')} || '; queued again'"
        " WHEN 'PartiallyDelivered' THEN 'partly delivered (live parts: ' || coalesce((SELECT string_agg(p->>'part',"
        " ', ' ORDER BY n) FROM jsonb_array_elements(j->'parts') WITH ORDINALITY AS x(p, n)), 'none') || '): '"
        f" || {d('reason')} || {STATUS} || '. ' || {d('remediation')}"
        f" WHEN 'Failed' THEN 'failed: ' || {d('reason')} || {STATUS} || '. ' || {d('remediation')}"
        " ELSE name END"
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
        "at": fixed(TIMESTAMP),
        "event": "name",
        "state": _state_so_far(post),
        "attempt": "(j->>'attempt')::int",
        "worker": "j->>'worker'",
        "http_status": "(j->'observed'->>'http_status')::int",
        "error_code": "coalesce(nullif(j->'observed'->>'platform_code', ''),"
        " CASE WHEN name <> 'Delivered' THEN j->'observed'->>'kind' END)",
        "explanation": _explanation(),
        # a post's first event is always its Drafted, which names both
        "workspace": f"first_value(j->>'workspace') {post}",
        "external_id": f"first_value(j->>'external_id') {post}",
        "due_at": fixed(DUE_AT),
        "remote_id": "j->>'remote_id'",
        "permalink": "j->>'permalink'",
        "reason": f"CASE WHEN {_among(ENDED)} THEN j->>'reason' END",
        "remediation": "j->>'remediation'",
    }
    assert tuple(values) == TIMELINE_COLUMNS
    return f"INSERT INTO timeline{{suffix}} ({', '.join(values)}) SELECT {', '.join(values.values())}{_events(until)}"


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
