"""The timeline's sentences and summary, and the stats' percentiles: pure functions."""

from __future__ import annotations

from typing import Any

from projections.facts import Fact
from projections.facts import utc_text as fixed
from projections.stats import percentile
from projections.timeline import explain, summary


def fact(name: str, **data: Any) -> Fact:
    return Fact(
        position=1,
        aggregate_id="p",
        version=1,
        aggregate="Post",
        name=name,
        at="2026-11-23T09:00:00.000000Z",
        data=data,
    )


def test_a_timeout_after_send_reads_as_support_expects() -> None:
    state, text = explain(
        fact("OutcomeAmbiguous", attempt=2, reason="timeout_after_send", observed={"kind": "timeout_after_send"}),
        "dispatched",
    )
    assert state == "ambiguous"
    assert text == "attempt 2 timed out after the request was sent; outcome unknown, handed to the reconciler"


def test_a_rate_limit_names_the_reset_and_the_status() -> None:
    observed = {"kind": "rate_limited", "http_status": 429, "platform_code": None}
    state, text = explain(
        fact("AttemptFailed", attempt=1, observed=observed, next_attempt_at="2026-11-23T09:15:00Z"), "dispatched"
    )
    assert state == "queued"
    assert text == "attempt 1 was rate-limited (HTTP 429); waiting for the reset at 2026-11-23T09:15:00Z"


def test_edits_keep_the_state_they_found() -> None:
    state, _ = explain(fact("ContentEdited", content_version=2), "queued")
    assert state == "queued"


def test_the_summary_gives_lateness_and_the_failure_remedy() -> None:
    rows = [
        {
            "post_id": "p",
            "external_id": "e",
            "state": "queued",
            "event": "Scheduled",
            "at": "2026-11-23T08:00:00.000000Z",
            "due_at": "2026-11-23T09:00:00.000000Z",
            "attempt": None,
            "remote_id": None,
            "permalink": None,
            "reason": None,
            "remediation": None,
        },
        {
            "post_id": "p",
            "external_id": "e",
            "state": "delivered",
            "event": "Delivered",
            "at": "2026-11-23T09:00:02.500000Z",
            "due_at": None,
            "attempt": 1,
            "remote_id": "r1",
            "permalink": "https://x/r1",
            "reason": None,
            "remediation": None,
        },
    ]
    head = summary(rows)
    assert (head["state"], head["remote_id"], head["late_by_seconds"], head["attempts"]) == ("delivered", "r1", 2.5, 1)


def test_percentiles_are_nearest_rank() -> None:
    values = [float(n) for n in range(1, 101)]
    assert (percentile(values, 0.5), percentile(values, 0.99), percentile([], 0.5)) == (50.0, 99.0, None)


def test_instants_become_fixed_width() -> None:
    assert fixed("2026-11-23T09:00:00Z") == "2026-11-23T09:00:00.000000Z"
    assert fixed("2026-11-23T10:00:00.5+01:00") == "2026-11-23T09:00:00.500000Z"
