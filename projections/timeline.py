"""The support timeline: one readable row per event, so "what happened to this post?" takes a minute.

`explain` is the pure part: an event and the state before it give the state after and one
sentence a support person can read to a customer.

The table keeps, per event, only what a fold must carry across events or a query filters
on (`STORED`: the state after it, the post's workspace and external id, its instant, name
and failure reason). The rest of a row (`COLUMNS`: the sentence, the attempt, the HTTP
status…) is read from the event itself when the row is shown (`shown`), so the log stays
the one place that holds what happened, and a replay writes narrow rows without decoding
most events.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from domain.post import STATE_AFTER, Post
from projections.facts import Fact, seconds_between, utc_text

COLUMNS = (
    "post_id",
    "version",
    "at",
    "event",
    "state",
    "attempt",
    "worker",
    "http_status",
    "error_code",
    "explanation",
    "workspace",
    "external_id",
    "due_at",
    "remote_id",
    "permalink",
    "reason",
    "remediation",
)

STORED = ("post_id", "version", "at", "event", "state", "workspace", "external_id", "reason")

STATE = {event.__name__: state.value for event, state in STATE_AFTER.items() if state is not None}
ENDED = (Post.Failed.__name__, Post.PartiallyDelivered.__name__)  # the events whose reason is a failure's
# the events that can hold a platform's refusal (an observation other than a delivery's)
ANSWERED = tuple(
    event.__name__ for event in STATE_AFTER if "observed" in event.model_fields and event is not Post.Delivered
)


def _status(observed: dict[str, Any] | None) -> str:
    if not observed:
        return ""
    parts = [f"HTTP {observed['http_status']}" if observed.get("http_status") else ""]
    if observed.get("platform_code"):
        parts.append(f"code {observed['platform_code']}")
    return " (" + ", ".join(p for p in parts if p) + ")" if any(parts) else ""


def state_after(name: str, state_before: str | None) -> str:
    """The post's state after an event called `name`; events that change no state keep the one before."""
    return STATE.get(name, state_before or "draft")


def explain(fact: Fact, state_before: str | None) -> tuple[str, str]:
    """The state after `fact`, and one sentence saying what happened and why."""
    d = fact.data
    state = state_after(fact.name, state_before)
    attempt = d.get("attempt")
    match fact.name:
        case Post.Drafted.__name__:
            text = f"drafted for {d['account']} on {d['platform']}"
            if d.get("redrive_of"):
                text += f", to send failed post {d['redrive_of']} again"
        case Post.Scheduled.__name__:
            text = "queued to publish now" if d["publish_now"] else f"scheduled for {d['due_at']}"
            text += f"; it fails rather than go out after {d['deadline']}"
        case Post.ContentEdited.__name__:
            text = f"content edited (version {d['content_version']}); a new publish key makes it a new intent"
        case Post.Rescheduled.__name__:
            text = f"moved from {d['previous_due_at']} to {d['due_at']}"
            if d.get("reason"):
                text += f": {d['reason']}"
        case Post.Canceled.__name__:
            text = f"canceled while {d['previous_state']}: {d['reason']}"
        case Post.DispatchClaimed.__name__:
            text = f"attempt {attempt} claimed by {d['worker']}, lease until {d['lease_until']}"
        case Post.ClaimAbandoned.__name__:
            text = f"attempt {attempt} was never sent ({d['reason']}); queued again at once"
        case Post.ContainerPrepared.__name__:
            text = (
                f"attempt {attempt} prepared container {d['container_id']} for part {d.get('part', 1)}; "
                "only publishing it is visible"
            )
        case Post.PartPublished.__name__:
            text = f"attempt {attempt}: part {d['part']} is live as {d['remote_id']}"
        case Post.MediaUploaded.__name__:
            text = f"attempt {attempt} uploaded file {d['index'] + 1} of part {d['part']} as {d['remote_media_id']}" + (
                f", usable until {d['expires_at']}" if d.get("expires_at") else ""
            )
        case Post.FirstCommentPosted.__name__:
            text = f"attempt {attempt}: the first comment is live as {d['remote_id']}"
        case Post.ApprovalRequested.__name__:
            when = "now" if d["publish_now"] else f"for {d['due_at']}"
            text = f"waiting for an approver before it is queued {when}"
        case Post.Approved.__name__:
            text = f"approved by {d['actor']}" + (f": {d['comment']}" if d["comment"] else "")
        case Post.Rejected.__name__:
            text = f"sent back to draft by {d['actor']}" + (f": {d['comment']}" if d["comment"] else "")
        case Post.Redriven.__name__:
            text = f"sent again as post {d['new_post_id']}, by {d['actor']}"
        case Post.FirstCommentFailed.__name__:
            text = f"attempt {attempt}: the first comment did not go ({d['reason']}); the post stands"
        case Post.Delivered.__name__ if d["reconciled"]:
            text = f"the reconciler confirmed attempt {attempt} is on the platform as {d['remote_id']}: {d['evidence']}"
        case Post.Delivered.__name__:
            text = f"attempt {attempt} delivered as {d['remote_id']}"
        case Post.AttemptFailed.__name__:
            text = _failed_attempt(attempt, d)
        case Post.OutcomeAmbiguous.__name__:
            text = _ambiguous(attempt, d["reason"]) + "; outcome unknown, handed to the reconciler"
        case Post.ReleasedForRetry.__name__:
            text = (
                f"the reconciler found no trace of attempt {attempt} ({d['evidence']}); "
                "released to retry with the same key"
            )
        case Post.AttentionNeeded.__name__:
            text = (
                f"the reconciler cannot settle attempt {attempt} ({d['reason']}: {d['evidence']}). {d['remediation']}"
            )
        case Post.SettledLive.__name__:
            text = f"settled by {d['actor']}: live as {d['remote_id']} ({d['note']})"
        case Post.SettledNotLive.__name__:
            text = f"settled by {d['actor']}: not on the platform ({d['note']}); queued again under the same key"
        case Post.Held.__name__:
            text = f"held ({d['reason']}{_status(d.get('observed'))}): {d['detail']}. {d['remediation']}"
        case Post.HoldReleased.__name__:
            text = f"released: {d['evidence']}; queued again"
        case Post.PartiallyDelivered.__name__:
            live = ", ".join(str(part["part"]) for part in d["parts"]) or "none"
            text = (
                f"partly delivered (live parts: {live}): {d['reason']}{_status(d.get('observed'))}. {d['remediation']}"
            )
        case Post.Failed.__name__:
            text = f"failed: {d['reason']}{_status(d.get('observed'))}. {d['remediation']}"
        case _:
            text = fact.name
    return state, text


def _failed_attempt(attempt: Any, d: dict[str, Any]) -> str:
    observed = d["observed"]
    match observed["kind"]:
        case "rate_limited":
            return (
                f"attempt {attempt} was rate-limited{_status(observed)}; "
                f"waiting for the reset at {d['next_attempt_at']}"
            )
        case "connect_error":
            return f"attempt {attempt} could not connect, so nothing was sent; retrying at {d['next_attempt_at']}"
        case _:
            return f"attempt {attempt} failed{_status(observed)}; retrying at {d['next_attempt_at']} with the same key"


def _ambiguous(attempt: Any, reason: str) -> str:
    match reason:
        case "lease_expired":
            return f"attempt {attempt}'s lease ran out with no report (the worker died?)"
        case "timeout_after_send":
            return f"attempt {attempt} timed out after the request was sent"
        case "already_published":
            return f"the platform said attempt {attempt} is already published"
        case "retries_exhausted":
            return f"attempt {attempt} was the last try, and an attempt may have landed"
        case "deadline_passed":
            return f"the deadline passed after attempt {attempt}, which may have landed"
        case _:
            return f"attempt {attempt} ended unclearly ({reason})"


def stored(fact: Fact, state: str, post: dict[str, Any]) -> dict[str, Any]:
    """The columns the table keeps for one event, which left the post in `state`; `post`
    carries workspace and external_id across rows."""
    return {
        "post_id": fact.aggregate_id,
        "version": fact.version,
        "at": fact.at,
        "event": fact.name,
        "state": state,
        "workspace": post.get("workspace"),
        "external_id": post.get("external_id"),
        "reason": fact.data.get("reason") if fact.name in ENDED else None,
    }


def row(fact: Fact, state_before: str | None, post: dict[str, Any]) -> dict[str, Any]:
    """The whole timeline row for one event, as support reads it: the stored columns and those
    read from the event, in `COLUMNS` order."""
    d = fact.data
    state, text = explain(fact, state_before)
    observed = d.get("observed") or {}
    whole = stored(fact, state, post) | {
        "attempt": d.get("attempt"),
        "worker": d.get("worker"),
        "http_status": observed.get("http_status"),
        "error_code": observed.get("platform_code")
        or (observed.get("kind") if fact.name != Post.Delivered.__name__ else None),
        "explanation": text,
        "due_at": utc_text(d.get("due_at")),
        "remote_id": d.get("remote_id"),
        "permalink": d.get("permalink"),
        "remediation": d.get("remediation"),
    }
    return {column: whole[column] for column in COLUMNS}


def shown(kept: dict[str, Any], fact: Fact) -> dict[str, Any]:
    """The whole row from a stored row and the event it stands for. The stored state is the
    one shown (a sentence never depends on the state before), so a row reads the same whether
    it was folded live, replayed in Python or replayed by the database. An event that no
    longer decodes still shows its stored columns, and says so."""
    try:
        if fact.problem:
            raise ValueError(fact.problem)
        return row(fact, kept["state"], kept) | {"state": kept["state"], "at": kept["at"]}
    except Exception as problem:  # one damaged event never hides the rest of the history
        cause = f"{type(problem).__name__}: {problem}".splitlines()[0][:500]
        return dict.fromkeys(COLUMNS) | kept | {"explanation": f"this event cannot be shown ({cause})"}


class TimelineWriter(Protocol):
    def last_known(self, post_id: str) -> tuple[str | None, dict[str, Any]]:
        """The state and identity (workspace, external_id) the post's latest row holds."""
        ...

    def append(self, rows: list[dict[str, Any]]) -> None: ...


class Timeline:
    name = "timeline"
    tables: tuple[str, ...] = ("timeline",)
    handles = frozenset(STATE_AFTER)  # one row for every post event: `explain` has a sentence for each
    ignores: frozenset[type[Post.Event]] = frozenset()

    def apply(self, writer: TimelineWriter, facts: Sequence[Fact]) -> None:
        """One row per event. The runner's tracking applies each batch once, so rows are only
        ever appended."""
        last: dict[str, tuple[str | None, dict[str, Any]]] = {}  # post → (state, identity) within the batch
        rows = []
        for fact in facts:
            if fact.aggregate != Post.__name__:
                continue
            if fact.name == Post.Drafted.__name__:
                previous: tuple[str | None, dict[str, Any]] = (None, fact.data)
            elif fact.aggregate_id in last:
                previous = last[fact.aggregate_id]
            else:
                previous = writer.last_known(fact.aggregate_id)
            state, _ = explain(fact, previous[0])  # an event that cannot be shown is set aside now, not when read
            new = stored(fact, state, previous[1])
            last[fact.aggregate_id] = (new["state"], {"workspace": new["workspace"], "external_id": new["external_id"]})
            rows.append(new)
        writer.append(rows)


class TimelineView(Protocol):
    """What the timeline answers (`infrastructure/persistence/timeline.py`)."""

    def rows(self, post_id: str, as_of: str | None = None) -> list[dict[str, Any]]:
        """The post's rows, oldest first; with `as_of`, only what had happened by then."""
        ...

    def post_ids_for_external_id(self, workspace: str | None, external_id: str) -> list[str]: ...

    def answered(self, workspace: str, since: str, http_status: int) -> list[dict[str, Any]]:
        """The workspace's rows since `since` where the platform answered with `http_status`."""
        ...


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """What support asks first: final state, where it is, how late, and why it failed."""
    if not rows:
        return {}
    last_row = rows[-1]
    due = next((r["due_at"] for r in reversed(rows) if r["due_at"]), None)
    delivered = next((r for r in rows if r["event"] in (Post.Delivered.__name__, Post.SettledLive.__name__)), None)
    failed = next((r for r in rows if r["event"] in ENDED), None)
    waiting = last_row if last_row["state"] in ("held", "ambiguous") and last_row["remediation"] else None
    return {
        "post_id": last_row["post_id"],
        "external_id": last_row["external_id"],
        "state": last_row["state"],
        "due_at": due,
        "remote_id": delivered and delivered["remote_id"],
        "permalink": delivered and delivered["permalink"],
        "late_by_seconds": round(seconds_between(due, delivered["at"]), 3) if delivered and due else None,
        "failure_reason": failed and failed["reason"],
        "remediation": (failed or waiting or {}).get("remediation"),
        "attempts": max((r["attempt"] or 0) for r in rows),
    }
