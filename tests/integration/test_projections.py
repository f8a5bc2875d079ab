"""Projections on both stores: the timeline and stats of a real history, replay determinism,
as-of replays, and the due index's plans on PostgreSQL."""

from __future__ import annotations

from collections import Counter

import pytest

from projections.catalog import PROJECTIONS
from projections.replay import replay
from projections.stats import Stats
from projections.timeline import Timeline, summary
from tests.integration.history import History, make_history, table_rows


@pytest.fixture
def history(store_url: str) -> History:
    made = make_history(store_url)
    yield made
    made.store.close()
    made.service.close()


def test_the_timeline_has_one_readable_row_per_event(history: History) -> None:
    timeline = Timeline()
    for post_id in history.post_ids:
        events = history.service.history(post_id)
        with history.store.transaction() as cursor:
            rows = timeline.rows(cursor, str(post_id))
        assert [r["event"] for r in rows] == [e.name for e in events]
        assert rows[-1]["state"] == history.service.get_post(post_id).state
        assert all(r["explanation"] for r in rows)
    with history.store.transaction() as cursor:
        (found,) = timeline.post_ids_for_external_id(cursor, "ext-5")
    assert found == str(history.post_ids[5])


def test_every_post_ends_terminal_and_the_summary_explains_it(history: History) -> None:
    timeline = Timeline()
    states = Counter()
    for post_id in history.post_ids:
        with history.store.transaction() as cursor:
            head = summary(timeline.rows(cursor, str(post_id)))
        states[head["state"]] += 1
        if head["state"] == "delivered":
            assert head["remote_id"] and head["late_by_seconds"] is not None and head["late_by_seconds"] >= 0
        if head["state"] == "failed":
            assert head["failure_reason"] and head["remediation"]
    assert set(states) <= {"delivered", "failed", "canceled"} and states["delivered"] > 0


def test_stats_count_what_the_events_say(history: History) -> None:
    with history.store.transaction() as cursor:
        report = Stats().report(cursor)
    posts = [history.service.get_post(p) for p in history.post_ids]
    assert sum(e["scheduled"] for e in report) == len(posts)
    assert sum(e["delivered"] for e in report) == sum(p.state == "delivered" for p in posts)
    assert sum(e["reconciled"] for e in report) == sum(p.reconciled for p in posts)
    assert sum(e["canceled"] for e in report) == 1
    assert sum(e["attempts"] for e in report) == sum(p.attempt for p in posts)
    failed = Counter(p.failure_reason for p in posts if p.failure_reason)
    by_reason: Counter[str] = Counter()
    for entry in report:
        by_reason.update(entry["failed_by_reason"])
    assert by_reason == failed


def test_a_replay_holds_exactly_the_rows_the_live_projection_built(history: History) -> None:
    for name, cls in PROJECTIONS.items():
        live = {table: table_rows(history.store, table) for table in cls.tables}
        read = replay(history.service, history.store, cls(), batch_size=13)
        assert read == history.service.recorder.max_notification_id()
        replayed = {table: table_rows(history.store, table) for table in cls.tables}
        assert replayed == live, name


def test_an_as_of_replay_shows_the_posts_as_they_stood(history: History) -> None:
    cutoff = history.midpoint.strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # type: ignore[attr-defined]
    replay(history.service, history.store, Timeline(), until=history.midpoint)  # type: ignore[arg-type]
    past = table_rows(history.store, "timeline_asof")
    now = table_rows(history.store, "timeline")
    assert past == [row for row in now if row[2] <= cutoff]
    assert 0 < len(past) < len(now)


@pytest.mark.postgres
def test_the_due_queries_use_the_indexes_on_postgresql(postgres_url: str) -> None:
    made = make_history(postgres_url, posts=10)
    try:
        with made.store.transaction() as cursor:
            cursor.execute(
                "INSERT INTO due_index (post_id, created, workspace, account, platform, state, attempt, not_before,"
                " lease_until, version) SELECT 'x' || n, 1000 + n, 'w', 'a' || (n % 50), 'x',"
                " CASE WHEN n % 10 = 0 THEN 'queued' WHEN n % 10 = 1 THEN 'dispatched' ELSE 'delivered' END,"
                " 1, to_char(now() + n * interval '1 second', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),"
                " to_char(now() + n * interval '1 second', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), 1"
                " FROM generate_series(1, 50000) AS n"
            )
            cursor.execute("ANALYZE due_index")
            plans = {}
            for name, sql in {
                "due": "SELECT post_id FROM due_index WHERE state = 'queued' AND not_before <= '2000-01-01'"
                " ORDER BY not_before LIMIT 100",
                "leases": "SELECT post_id FROM due_index WHERE state = 'dispatched' AND lease_until <= '2000-01-01'"
                " ORDER BY lease_until LIMIT 100",
            }.items():
                cursor.execute("EXPLAIN " + sql)
                plans[name] = "\n".join(found[0] for found in cursor.fetchall())
        assert "due_index_due" in plans["due"], plans["due"]
        assert "due_index_lease" in plans["leases"], plans["leases"]
    finally:
        made.store.close()
        made.service.close()
