"""Projections on both stores: the timeline and stats of a real history, replay determinism,
as-of replays, and the due index's plans."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from domain.content import Content, Platform, ThreadPart
from domain.decisions import AccountStatus, RetryPolicy
from domain.outcomes import Observation, Observed, RemotePart, RemotePost, Search
from domain.post import LIFECYCLE, Post
from infrastructure.bootstrap import Herald, bootstrap
from infrastructure.persistence.connections import ReadStore
from infrastructure.persistence.replay import replay
from projections.catalog import PROJECTIONS
from projections.timeline import Timeline, summary
from tests.integration.history import History, make_history, table_rows


@pytest.fixture
def history(store_url: str) -> History:
    made = make_history(store_url)
    yield made
    made.store.close()
    made.service.close()


def test_the_timeline_has_one_readable_row_per_event(history: History) -> None:
    timeline = history.service.timeline
    for post_id in history.post_ids:
        events = history.service.posts.history(post_id)
        rows = timeline.rows(str(post_id))
        assert [r["event"] for r in rows] == [e.name for e in events]
        assert rows[-1]["state"] == history.service.posts.get_post(post_id).state
        assert all(r["explanation"] for r in rows)
    (found,) = timeline.post_ids_for_external_id(None, "ext-5")
    assert found == str(history.post_ids[5])


def test_every_post_ends_terminal_and_the_summary_explains_it(history: History) -> None:
    timeline = history.service.timeline
    states = Counter()
    for post_id in history.post_ids:
        head = summary(timeline.rows(str(post_id)))
        states[head["state"]] += 1
        if head["state"] == "delivered":
            assert head["remote_id"] and head["late_by_seconds"] is not None and head["late_by_seconds"] >= 0
        if head["state"] == "failed":
            assert head["failure_reason"] and head["remediation"]
    assert set(states) <= {"delivered", "failed", "canceled"} and states["delivered"] > 0


def test_stats_count_what_the_events_say(history: History) -> None:
    report = history.service.stats.report()
    posts = [history.service.posts.get_post(p) for p in history.post_ids]
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
        read = replay(history.service.projections, cls(), batch_size=13)
        assert read == history.service.events.recorder.max_notification_id()
        replayed = {table: table_rows(history.store, table) for table in cls.tables}
        assert replayed == live, name


def test_an_as_of_replay_shows_the_posts_as_they_stood(history: History) -> None:
    cutoff = history.midpoint.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    replay(history.service.projections, Timeline(), until=history.midpoint)
    past = table_rows(history.store, "timeline_asof")
    now = table_rows(history.store, "timeline")
    assert past == [row for row in now if row[2] <= cutoff]
    assert 0 < len(past) < len(now)


class _Recording:
    """A read store that notes each statement its queries run, and runs it."""

    def __init__(self, store: ReadStore) -> None:
        self.store = store
        self.statements: list[tuple[str, list[Any]]] = []

    @contextmanager
    def reading(self) -> Iterator[_Recording]:
        with self.store.reading() as cursor:
            self.cursor = cursor
            yield self

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        self.statements.append((sql, list(params)))
        return self.cursor.execute(sql, params)

    def fetchall(self) -> list[Any]:
        return self.cursor.fetchall()

    def fetchone(self) -> Any:
        return self.cursor.fetchone()


def test_each_due_query_reads_an_index_of_the_posts_still_moving(store_url: str) -> None:
    """With 50,000 posts, most of them settled, each query the dispatcher and reconciler run
    is planned on its partial index, on both stores (SQLite uses one only when the query
    repeats the index's terms)."""
    from infrastructure.persistence.due_index import SqlDueIndex

    made = make_history(store_url, posts=10)
    try:
        with made.store.transaction() as cursor:
            cursor.execute(
                "INSERT INTO due_index (post_id, created, workspace, account, platform, state, attempt, not_before,"
                " deadline, lease_until, waiting_for, version, changed_at)"
                " WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50000)"
                " SELECT 'x' || i, 1000 + i, 'w', 'a' || (i % 50), 'x',"
                " CASE i % 20 WHEN 0 THEN 'queued' WHEN 1 THEN 'dispatched' WHEN 2 THEN 'ambiguous'"
                " WHEN 3 THEN 'held' ELSE 'delivered' END, 1,"
                " '2026-01-01T00:00:00.000000Z', '2026-01-02T00:00:00.000000Z',"
                " CASE WHEN i % 20 = 1 THEN '2026-01-01T00:00:00.000000Z' END,"
                " CASE WHEN i % 40 = 2 THEN 'support' END, 1, '2026-01-01T00:00:00.000000Z' FROM n"
            )
            cursor.execute("ANALYZE due_index")
        recording = _Recording(made.store)
        queries = SqlDueIndex(recording)  # type: ignore[arg-type]
        now = datetime(2026, 6, 1, tzinfo=UTC)
        expected = {
            "due": (lambda: queries.due(now, 100), "_queued"),
            "next due": (queries.next_due, "_queued"),
            # here every queued post is past its deadline: either index of queued posts finds them
            "past deadline": (lambda: queries.past_deadline(now, 100), "_deadline|_queued"),
            "expired leases": (lambda: queries.expired_leases(now, 100), "_leased"),
            "needing attention": (lambda: queries.needing_attention(None, 100), "_attention"),
            "ambiguous": (lambda: queries.ambiguous(100), "_unsettled"),
            "held": (lambda: queries.held(100), "_unsettled"),
        }
        plans = {}
        for name, (query, _) in expected.items():
            assert query(), name  # each finds posts
            sql, params = recording.statements[-1]
            explain = "EXPLAIN " if made.store.dialect == "postgres" else "EXPLAIN QUERY PLAN "
            with made.store.reading() as cursor:
                cursor.execute(explain + sql, params)
                plans[name] = "\n".join(str(row[-1]) for row in cursor.fetchall())
        for name, (_, indexes) in expected.items():
            assert any(f"due_index{index}" in plans[name] for index in indexes.split("|")), (name, plans[name])
    finally:
        made.store.close()
        made.service.close()


def test_the_whole_table_indexes_of_before_give_way_to_the_partial_ones(store_url: str) -> None:
    from infrastructure.persistence.connections import index_names
    from infrastructure.persistence.due_index import INDEXES, SUPERSEDED, create

    service = bootstrap(store_url)
    try:
        with service.read_store.transaction() as cursor:
            create(cursor)
            for old in SUPERSEDED:  # as the table was made before
                cursor.execute(f"CREATE INDEX IF NOT EXISTS due_index{old} ON due_index (state, post_id)")
        with service.read_store.transaction() as cursor:
            create(cursor)
            found = set(index_names(service.read_store, cursor, "due_index"))
        assert {f"due_index{name}" for name in INDEXES} <= found
        assert not {f"due_index{name}" for name in SUPERSEDED} & found
    finally:
        service.close()


def test_every_kind_of_event_replays_as_the_live_fold_wrote_it(store_url: str) -> None:
    """On PostgreSQL the replay folds in SQL; it must write the rows the Python fold writes,
    for every event the post can record (reschedules, containers, lease expiries, failures
    with and without a platform answer, zero-microsecond instants)."""
    service = bootstrap(store_url)
    store = service.read_store
    live = {name: service.runner(cls(), batch_size=3) for name, cls in PROJECTIONS.items()}
    now = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # whole seconds: pydantic writes "...:00Z"
    policy = RetryPolicy(base_seconds=5, cap_seconds=30, max_attempts=3, jitter=0.0)
    posts = []

    def post(platform: Platform, n: int) -> Post:
        made = _draft(platform, n, now)
        posts.append(made)
        return made

    def outcome(target: Post, kind: Observation, status: int | None = None, code: str | None = None) -> None:
        observed = Observed(
            kind=kind, http_status=status, platform_code=code, remote_id="r-1" if status == 201 else None
        )
        target.record_outcome(attempt=target.attempt, observed=observed, policy=policy, seed=7, now=now)

    rescheduled = post(Platform.X, 0)
    rescheduled.schedule(now + timedelta(hours=1), now=now)
    rescheduled.reschedule(now + timedelta(hours=2, microseconds=5), now=now)
    rescheduled.edit_content(Content(text="edited"), now=now)
    rescheduled.cancel(now=now, reason="campaign pulled")
    threads = post(Platform.THREADS, 1)
    threads.schedule(now, now=now, publish_now=True)
    threads.claim(worker="w-1", lease=timedelta(seconds=30), now=now)
    threads.prepare_container(attempt=1, container_id="c-9", now=now)
    threads.record_upload(
        attempt=1, part=1, index=0, remote_media_id="m-1", expires_at=now + timedelta(days=1), now=now
    )
    threads.record_upload(attempt=1, part=1, index=1, remote_media_id="m-2", expires_at=None, now=now)
    threads.record_first_comment(attempt=1, remote_id="c-1", permalink=None, observed=None, now=now)
    outcome(threads, Observation.ACCEPTED, 201)
    commented = post(Platform.INSTAGRAM, 9)
    commented.schedule(now, now=now, publish_now=True)
    commented.claim(worker="w-9", lease=timedelta(seconds=30), now=now)
    refused = Observed(kind=Observation.REJECTED, http_status=400, platform_code="100")
    commented.record_first_comment(attempt=1, remote_id=None, permalink=None, observed=refused, now=now)
    outcome(commented, Observation.ACCEPTED, 201)
    retried = post(Platform.MASTODON, 2)
    retried.schedule(now, now=now, publish_now=True)
    for kind, status, code in [
        (Observation.CONNECT_ERROR, None, None),
        (Observation.RATE_LIMITED, 429, "88"),
        (Observation.SERVER_ERROR, 503, None),
    ]:
        now += timedelta(minutes=1)
        retried.claim(worker="w-2", lease=timedelta(seconds=30), now=now)
        outcome(retried, kind, status, code)
    lost = post(Platform.BLUESKY, 3)
    lost.schedule(now, now=now, publish_now=True)
    lost.claim(worker="w-3", lease=timedelta(seconds=30), now=now)
    now += timedelta(minutes=1)
    lost.expire_lease(now=now)
    lost.release_for_retry(evidence="not in the author feed", now=now)
    lost.claim(worker="w-3", lease=timedelta(seconds=30), now=now)
    outcome(lost, Observation.TIMEOUT_AFTER_SEND)
    lost.confirm_delivered(RemotePost(remote_id="at://found"), evidence="in the author feed", now=now)
    refused = post(Platform.LINKEDIN, 4)
    refused.schedule(now, now=now, publish_now=True)
    refused.claim(worker="w-4", lease=timedelta(seconds=30), now=now)
    outcome(refused, Observation.REJECTED, 422, "")
    late = post(Platform.X, 5)
    late.schedule(now + timedelta(minutes=1), now=now)
    late.fail("deadline_passed", "schedule it again", now=now + timedelta(hours=1))
    late.redrive(uuid4(), actor="key k-1", now=now + timedelta(hours=1))  # sent again as another post
    approved = post(Platform.MASTODON, 9)  # on an account that asks for approval: rejected, then approved
    approved.request_approval(now + timedelta(hours=2), now=now)
    approved.reject(actor="key k-2", comment="wrong logo", now=now)
    approved.request_approval(now + timedelta(hours=2), now=now, publish_now=True)
    approved.approve(actor="key k-2", comment="", now=now)
    thread = post(Platform.THREADS, 6)  # a thread that breaks after its first part, then ends partly live
    thread.edit_content(Content(text="1/2", thread=(ThreadPart(text="2/2"),)), now=now)
    thread.schedule(now, now=now, publish_now=True)
    thread.claim(worker="w-6", lease=timedelta(seconds=30), now=now)
    thread.prepare_container(attempt=1, container_id="c-1", part=1, now=now)
    thread.record_part(attempt=1, part=RemotePart(part=1, remote_id="t-1", permalink="https://t/1"), now=now)
    thread.prepare_container(attempt=1, container_id="c-2", part=2, now=now)
    outcome(thread, Observation.REJECTED, 400, "100")
    held = post(Platform.MASTODON, 7)  # held by its account, released on reconnect, then abandoned by a stopping worker
    held.schedule(now, now=now, publish_now=True)
    held.hold("account_disconnected", "acct-7 is disconnected", "reconnect it", now=now)
    status = AccountStatus(exists=True, connected=True, connected_since=now, readable=True, supported=True)
    held.release_hold(status, now=now + timedelta(minutes=1))
    held.claim(worker="w-7", lease=timedelta(seconds=30), now=now + timedelta(minutes=1))
    held.abandon_claim(attempt=1, reason="stopping", now=now + timedelta(minutes=1))
    unsure = post(Platform.X, 8)  # evidence it landed, not found: support settles it live
    unsure.schedule(now, now=now, publish_now=True)
    for attempt in (1, 2):
        unsure.claim(worker="w-8", lease=timedelta(seconds=30), now=now)
        if attempt == 1:
            outcome(unsure, Observation.TIMEOUT_AFTER_SEND)
            unsure.reconcile(Search(found=(), complete=True, how="read 3 posts"), policy=policy, now=now)
    outcome(unsure, Observation.ALREADY_PUBLISHED, 403, "duplicate_content")
    unsure.reconcile(Search(found=(), complete=True, how="read 4 posts"), policy=policy, now=now)
    unsure.settle(live=RemotePost(remote_id="x-9"), actor="k-1", note="seen on the profile", now=now)
    deep = post(Platform.X, 9)  # too deep to look: support says it is not there; out of retries after a 5xx
    deep.schedule(now, now=now, publish_now=True)
    deep.claim(worker="w-9", lease=timedelta(seconds=30), now=now)
    outcome(deep, Observation.TIMEOUT_AFTER_SEND)
    deep.reconcile(Search(found=(), complete=False, how="more than 3200 posts"), policy=policy, now=now)
    deep.settle(live=None, actor="k-2", note="not on the profile", now=now)
    for _ in range(3):
        deep.claim(worker="w-9", lease=timedelta(seconds=30), now=now)
        outcome(deep, Observation.SERVER_ERROR, 503)
        now += timedelta(seconds=30)
    deep.reconcile(Search(found=(), complete=True, how="read 2 posts"), policy=policy, now=now)
    service.events.save(*posts)
    try:
        for name, cls in PROJECTIONS.items():
            live[name].catch_up()
            built = {table: table_rows(store, table) for table in cls.tables}
            shown = [service.timeline.rows(str(made.id)) for made in posts]
            replay(service.projections, cls())
            assert {table: table_rows(store, table) for table in cls.tables} == built, name
            assert [service.timeline.rows(str(made.id)) for made in posts] == shown, name  # as support reads them
        assert all(row["explanation"] and "cannot be shown" not in row["explanation"] for rows in shown for row in rows)
        states = {row[4] for row in table_rows(store, "timeline")}
        assert states >= {"canceled", "delivered", "failed", "queued", "held", "ambiguous", "partial"}
        events = {row[3] for row in table_rows(store, "timeline")}
        assert events == {event.__name__ for event in LIFECYCLE}, "every kind of event is replayed here"
    finally:
        store.close()
        service.close()


def _draft(platform: Platform, n: int, now: datetime) -> Post:
    return Post.draft(
        post_id=uuid4(),
        workspace="w",
        account=f"acct-{n}",
        platform=platform,
        content=Content(text=f"every kind {n}"),
        external_id=None if n == 0 else f"ext-kind-{n}",
        grace=timedelta(minutes=10),
        freeze=timedelta(0),
        now=now,
    )


def _scheduled_post(service: Herald) -> Post:
    now = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    post = _draft(Platform.MASTODON, 1, now)
    post.schedule(now + timedelta(hours=1), now=now)
    service.events.save(post)
    return post


def test_a_timeline_from_before_rows_were_shown_from_events_keeps_its_rows(store_url: str) -> None:
    """Tables made when the timeline stored its sentences keep every row: starting drops the
    columns now read from the events, and the rows read as before."""
    from infrastructure.persistence.timeline import DERIVED, create

    service = bootstrap(store_url)
    try:
        post = _scheduled_post(service)
        service.runner(Timeline()).catch_up()
        before = service.timeline.rows(str(post.id))
        with service.read_store.transaction() as cursor:
            for column in DERIVED:  # the columns the earlier table held
                cursor.execute(f"ALTER TABLE timeline ADD COLUMN {column} TEXT")
        with service.read_store.transaction() as cursor:
            create(cursor)
            columns = {d[0] for d in cursor.execute("SELECT * FROM timeline WHERE 1 = 0").description}
        assert not columns & set(DERIVED)
        assert service.timeline.rows(str(post.id)) == before and before[0]["explanation"].startswith("drafted for")
    finally:
        service.close()


def test_an_event_damaged_after_it_was_folded_shows_as_such_and_hides_nothing(sqlite_url: str) -> None:
    service = bootstrap(sqlite_url)
    try:
        post = _scheduled_post(service)
        service.runner(Timeline()).catch_up()
        with service.read_store.transaction() as cursor:
            cursor.execute("UPDATE stored_events SET state = %s WHERE originator_version = 2", [b"{not json"])
        drafted, scheduled = service.timeline.rows(str(post.id))
        assert drafted["explanation"].startswith("drafted for acct-1")
        assert scheduled["event"] == "Scheduled" and scheduled["state"] == "queued"
        assert scheduled["explanation"].startswith("this event cannot be shown (")
    finally:
        service.close()


@pytest.mark.postgres
def test_the_database_fold_reads_an_instant_in_any_key_order(postgres_url: str) -> None:
    """The replay reads `timestamp` from the event's bytes when the encoder wrote it first,
    and decodes the event otherwise: both give the same instant."""
    from infrastructure.persistence.postgres_fold import INSTANT, fixed

    first = b'{"timestamp":"2026-11-02T09:00:00Z","attempt":1}'
    later = b'{"attempt":1,"timestamp":"2026-11-02T09:00:00.250000+00:00"}'
    service = bootstrap(postgres_url)
    try:
        with service.read_store.reading() as cursor:
            values = "(VALUES (%s::bytea), (%s::bytea)) AS h(state)"
            cursor.execute(f"SELECT {fixed(INSTANT)} FROM {values}", [first, later])
            found = cursor.fetchall()
    finally:
        service.close()
    assert [tuple(row) for row in found] == [("2026-11-02T09:00:00.000000Z",), ("2026-11-02T09:00:00.250000Z",)]


def test_post_ids_are_keyed_byte_by_byte_and_stay_so_through_a_replay(postgres_url: str) -> None:
    """A locale's collation, even C.UTF-8, sorts text through `strcoll`: a replay's key builds
    took ~40% longer than under "C". Both tables are made with "C", and a replay keeps it."""
    made = make_history(postgres_url, posts=5)

    def collations() -> dict[str, str]:
        with made.store.reading() as cursor:
            cursor.execute(
                "SELECT table_name, collation_name FROM information_schema.columns WHERE table_schema ="
                " current_schema() AND column_name = 'post_id' AND table_name IN ('due_index', 'timeline')"
            )
            return dict(cursor.fetchall())

    try:
        assert collations() == {"due_index": "C", "timeline": "C"}
        before = made.service.timeline.rows(str(made.post_ids[0]))
        for name in ("due_index", "timeline"):
            replay(made.service.projections, PROJECTIONS[name]())
        assert collations() == {"due_index": "C", "timeline": "C"}
        assert made.service.timeline.rows(str(made.post_ids[0])) == before
    finally:
        made.store.close()
        made.service.close()


def test_the_platforms_refusals_are_found_by_their_status(store_url: str) -> None:
    """What the console's accounts page counts: the 429s of a workspace in the last hour."""
    service = bootstrap(store_url)
    try:
        now = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
        policy = RetryPolicy(base_seconds=5, cap_seconds=30, max_attempts=3, jitter=0.0)
        limited, refused = _draft(Platform.X, 1, now), _draft(Platform.X, 2, now)
        for post, status in ((limited, 429), (refused, 422)):
            post.schedule(now, now=now, publish_now=True)
            post.claim(worker="w-1", lease=timedelta(seconds=30), now=now)
            kind = Observation.RATE_LIMITED if status == 429 else Observation.REJECTED
            observed = Observed(kind=kind, http_status=status, platform_code="88")
            post.record_outcome(attempt=1, observed=observed, policy=policy, seed=7, now=now)
        service.events.save(limited, refused)
        service.runner(Timeline()).catch_up()
        (found,) = service.timeline.answered("w", "2026-11-02T08:00:00.000000Z", 429)
        assert (found["post_id"], found["event"], found["http_status"]) == (str(limited.id), "AttemptFailed", 429)
        assert service.timeline.answered("w", "2026-11-02T09:00:00.000001Z", 429) == []  # before the hour asked
        assert service.timeline.answered("other", "2026-11-02T08:00:00.000000Z", 429) == []  # another workspace
    finally:
        service.close()
