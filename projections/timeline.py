"""The support timeline: one readable row per event, so "what happened to this post?" takes a minute.

`explain` is the pure part: an event and the state before it give the state after and one
sentence a support person can read to a customer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from projections.facts import Fact, fixed
from projections.read_store import Cursor, insert_rows

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

STATE_AFTER = {
    "Drafted": "draft",
    "Scheduled": "queued",
    "Canceled": "canceled",
    "DispatchClaimed": "dispatched",
    "Delivered": "delivered",
    "AttemptFailed": "queued",
    "OutcomeAmbiguous": "ambiguous",
    "ReleasedForRetry": "queued",
    "Failed": "failed",
}


def _status(observed: dict[str, Any] | None) -> str:
    if not observed:
        return ""
    parts = [f"HTTP {observed['http_status']}" if observed.get("http_status") else ""]
    if observed.get("platform_code"):
        parts.append(f"code {observed['platform_code']}")
    return " (" + ", ".join(p for p in parts if p) + ")" if any(parts) else ""


def explain(fact: Fact, state_before: str | None) -> tuple[str, str]:
    """The state after `fact`, and one sentence saying what happened and why."""
    d, name = fact.data, fact.name
    state = STATE_AFTER.get(name, state_before or "draft")
    attempt = d.get("attempt")
    if name == "Drafted":
        text = f"drafted for {d['account']} on {d['platform']}"
    elif name == "Scheduled":
        text = "queued to publish now" if d["publish_now"] else f"scheduled for {d['due_at']}"
        text += f"; it fails rather than go out after {d['deadline']}"
    elif name == "ContentEdited":
        text = f"content edited (version {d['content_version']}); a new publish key makes it a new intent"
    elif name == "Rescheduled":
        text = f"moved from {d['previous_due_at']} to {d['due_at']}"
    elif name == "Canceled":
        text = f"canceled while {d['previous_state']}: {d['reason']}"
    elif name == "DispatchClaimed":
        text = f"attempt {attempt} claimed by {d['worker']}, lease until {d['lease_until']}"
    elif name == "ContainerPrepared":
        text = f"attempt {attempt} prepared container {d['container_id']}; only publishing it is visible"
    elif name == "Delivered":
        if d["reconciled"]:
            text = f"the reconciler confirmed attempt {attempt} is on the platform as {d['remote_id']}: {d['evidence']}"
        else:
            text = f"attempt {attempt} delivered as {d['remote_id']}"
    elif name == "AttemptFailed":
        observed = d["observed"]
        kind = observed["kind"]
        if kind == "rate_limited":
            text = (
                f"attempt {attempt} was rate-limited{_status(observed)}; "
                f"waiting for the reset at {d['next_attempt_at']}"
            )
        elif kind == "connect_error":
            text = f"attempt {attempt} could not connect, so nothing was sent; retrying at {d['next_attempt_at']}"
        else:
            text = f"attempt {attempt} failed{_status(observed)}; retrying at {d['next_attempt_at']} with the same key"
    elif name == "OutcomeAmbiguous":
        if d["reason"] == "lease_expired":
            text = f"attempt {attempt}'s lease ran out with no report (the worker died?)"
        elif d["reason"] == "timeout_after_send":
            text = f"attempt {attempt} timed out after the request was sent"
        else:
            text = f"attempt {attempt} ended unclearly ({d['reason']})"
        text += "; outcome unknown, handed to the reconciler"
    elif name == "ReleasedForRetry":
        text = (
            f"the reconciler found no trace of attempt {attempt} ({d['evidence']}); released to retry with the same key"
        )
    elif name == "Failed":
        text = f"failed: {d['reason']}{_status(d.get('observed'))}. {d['remediation']}"
    else:
        text = name
    return state, text


def row(fact: Fact, state_before: str | None, post: dict[str, Any]) -> dict[str, Any]:
    """The timeline row for one event; `post` carries workspace and external_id across rows."""
    d = fact.data
    state, text = explain(fact, state_before)
    observed = d.get("observed") or {}
    return {
        "post_id": fact.post_id,
        "version": fact.version,
        "at": fact.at,
        "event": fact.name,
        "state": state,
        "attempt": d.get("attempt"),
        "worker": d.get("worker"),
        "http_status": observed.get("http_status"),
        "error_code": observed.get("platform_code") or (observed.get("kind") if fact.name != "Delivered" else None),
        "explanation": text,
        "workspace": post.get("workspace"),
        "external_id": post.get("external_id"),
        "due_at": fixed(d.get("due_at")),
        "remote_id": d.get("remote_id"),
        "permalink": d.get("permalink"),
        "reason": d.get("reason") if fact.name == "Failed" else None,
        "remediation": d.get("remediation"),
    }


class Timeline:
    name = "timeline"
    tables = ("timeline",)

    def create(self, cursor: Cursor, suffix: str = "") -> None:
        table = self.name + suffix
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {table} ("
            " post_id TEXT NOT NULL, version INTEGER NOT NULL, at TEXT NOT NULL, event TEXT NOT NULL,"
            " state TEXT NOT NULL, attempt INTEGER, worker TEXT, http_status INTEGER, error_code TEXT,"
            " explanation TEXT NOT NULL, workspace TEXT, external_id TEXT, due_at TEXT, remote_id TEXT,"
            " permalink TEXT, reason TEXT, remediation TEXT, PRIMARY KEY (post_id, version))"
        )
        cursor.execute(f"CREATE INDEX IF NOT EXISTS {table}_external ON {table} (external_id)")

    def apply(self, cursor: Cursor, facts: Sequence[Fact], suffix: str = "") -> None:
        """Append one row per event. The runner's tracking applies each batch once, so rows
        are only ever appended (COPY on PostgreSQL)."""
        table = self.name + suffix
        last: dict[str, tuple[str, dict[str, Any]]] = {}  # post → (state, identity) within the batch
        rows = []
        for fact in facts:
            if fact.aggregate != "Post":
                continue
            if fact.name == "Drafted":
                previous: tuple[str | None, dict[str, Any]] = (None, fact.data)
            elif fact.post_id in last:
                previous = last[fact.post_id]
            else:
                previous = self._last_known(cursor, table, fact.post_id)
            new = row(fact, previous[0], previous[1])
            last[fact.post_id] = (
                new["state"],
                {"workspace": new["workspace"], "external_id": new["external_id"]},
            )
            rows.append([new[c] for c in COLUMNS])
        insert_rows(cursor, table, COLUMNS, rows)

    @staticmethod
    def _last_known(cursor: Cursor, table: str, post_id: str) -> tuple[str | None, dict[str, Any]]:
        cursor.execute(
            f"SELECT state, workspace, external_id FROM {table} WHERE post_id = %s ORDER BY version DESC LIMIT 1",
            [post_id],
        )
        found = cursor.fetchone()
        if not found:
            return None, {}
        return found[0], {"workspace": found[1], "external_id": found[2]}

    # ── queries ───────────────────────────────────────────────────────────────

    def rows(self, cursor: Cursor, post_id: str, as_of: str | None = None) -> list[dict[str, Any]]:
        """The post's rows, oldest first; with `as_of`, only what had happened by then."""
        clause, params = ("", [post_id]) if as_of is None else (" AND at <= %s", [post_id, as_of])
        cursor.execute(f"SELECT {', '.join(COLUMNS)} FROM timeline WHERE post_id = %s{clause} ORDER BY version", params)
        return [dict(zip(COLUMNS, found, strict=True)) for found in cursor.fetchall()]

    def post_ids_for_external_id(self, cursor: Cursor, external_id: str) -> list[str]:
        cursor.execute("SELECT DISTINCT post_id FROM timeline WHERE external_id = %s ORDER BY post_id", [external_id])
        return [found[0] for found in cursor.fetchall()]


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """What support asks first: final state, where it is, how late, and why it failed."""
    if not rows:
        return {}
    last_row = rows[-1]
    due = next((r["due_at"] for r in reversed(rows) if r["due_at"]), None)
    delivered = next((r for r in rows if r["event"] == "Delivered"), None)
    failed = next((r for r in rows if r["event"] == "Failed"), None)
    return {
        "post_id": last_row["post_id"],
        "external_id": last_row["external_id"],
        "state": last_row["state"],
        "due_at": due,
        "remote_id": delivered and delivered["remote_id"],
        "permalink": delivered and delivered["permalink"],
        "late_by_seconds": round(_seconds(due, delivered["at"]), 3) if delivered and due else None,
        "failure_reason": failed and failed["reason"],
        "remediation": failed and failed["remediation"],
        "attempts": max((r["attempt"] or 0) for r in rows),
    }


def _seconds(start: str, end: str) -> float:
    from datetime import datetime

    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
