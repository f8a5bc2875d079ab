"""The store's gauges move when what they measure happens: a projection falling behind shows
its lag in events and in seconds, and a post left ambiguous shows its age by state."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

from domain.content import Content, Platform
from domain.decisions import RetryPolicy
from domain.outcomes import Observation, Observed
from domain.post import Post
from infrastructure.bootstrap import bootstrap
from infrastructure.metrics import exposition
from projections.due_index import DueIndex


def _value(text: str, name: str, label: str) -> float:
    labels = rf"\{{{label}\}}" if label else ""
    found = re.search(rf"^{name}{labels} ([0-9.e+-]+)$", text, re.M)
    assert found, (name, label, text[-2000:])
    return float(found.group(1))


def test_lag_and_waiting_gauges_move(store_url: str) -> None:
    service = bootstrap(store_url)
    runner = service.runner(DueIndex())
    runner.catch_up()
    text = exposition(lambda: service)[0].decode()
    assert _value(text, "herald_projection_lag_seconds", 'projection="due_index"') == 0.0

    long_ago = datetime.now(UTC) - timedelta(minutes=20)
    post = Post.draft(
        post_id=uuid.uuid4(),
        workspace="w",
        account="acme",
        platform=Platform.MASTODON,
        content=Content(text="unclear"),
        external_id=None,
        grace=timedelta(hours=1),
        freeze=timedelta(0),
        now=long_ago,
    )
    post.schedule(long_ago, now=long_ago, publish_now=True)
    post.claim(worker="w", lease=timedelta(seconds=30), now=long_ago)
    timeout = Observed(kind=Observation.TIMEOUT_AFTER_SEND)
    post.record_outcome(attempt=1, observed=timeout, policy=RetryPolicy(), seed=1, now=long_ago)
    service.events.save(post)

    behind = exposition(lambda: service)[0].decode()
    assert _value(behind, "herald_projection_lag_events", 'projection="due_index"') == 4
    assert _value(behind, "herald_projection_lag_seconds", 'projection="due_index"') >= 20 * 60

    runner.catch_up()
    caught = exposition(lambda: service)[0].decode()
    assert _value(caught, "herald_projection_lag_seconds", 'projection="due_index"') == 0.0
    assert _value(caught, "herald_oldest_waiting_seconds", 'state="ambiguous"') >= 20 * 60
    service.close()


def test_a_poisoned_event_moves_the_quarantine_gauge(sqlite_url: str) -> None:
    import sqlite3

    service = bootstrap(sqlite_url)
    now = datetime.now(UTC)
    post = Post.draft(
        post_id=uuid.uuid4(),
        workspace="w",
        account="acme",
        platform=Platform.MASTODON,
        content=Content(text="poisoned"),
        external_id=None,
        grace=timedelta(hours=1),
        freeze=timedelta(0),
        now=now,
    )
    service.events.save(post)
    runner = service.runner(DueIndex())  # its tables, as every API process makes them
    before = _value(exposition(lambda: service)[0].decode(), "herald_quarantined_events", "")
    with sqlite3.connect(service.env["SQLITE_DBNAME"]) as conn:  # a row no fold can read
        conn.execute("UPDATE stored_events SET state = ? WHERE rowid = (SELECT MAX(rowid) FROM stored_events)", [b"{"])
    runner.catch_up()
    after = _value(exposition(lambda: service)[0].decode(), "herald_quarantined_events", "")
    service.close()
    assert after == before + 1
