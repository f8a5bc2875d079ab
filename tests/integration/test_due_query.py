"""The dispatcher's due query on both stores: oldest first, spread across accounts, and never
crowded out by an account that may not send."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from infrastructure.bootstrap import bootstrap
from infrastructure.persistence import due_index
from infrastructure.persistence.connections import ReadStore
from infrastructure.persistence.due_index import SqlDueIndex
from projections.facts import utc_text as instant

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture
def store(store_url: str) -> Iterator[ReadStore]:
    service = bootstrap(store_url)
    made = service.read_store
    with made.transaction() as cursor:
        due_index.create(cursor)
    yield made
    service.close()


def queue(store: ReadStore, account: str, posts: int, first: datetime, every: timedelta, workspace: str = "w") -> None:
    with store.transaction() as cursor:
        cursor.executemany(
            "INSERT INTO due_index (post_id, created, workspace, account, platform, state, attempt, not_before,"
            " version) VALUES (%s, 1, %s, %s, 'x', 'queued', 0, %s, 2)",
            [[f"{workspace}-{account}-{n}", workspace, account, instant(first + n * every)] for n in range(posts)],
        )


def accounts_due(store: ReadStore, limit: int, exclude: list[tuple[str, str]] | None = None) -> list[str]:
    found = SqlDueIndex(store).due(T0 + timedelta(hours=1), limit, exclude or [])
    return [post.account for post in found]


def test_a_quiet_account_goes_out_in_the_first_batch_despite_a_busy_ones_older_backlog(store: ReadStore) -> None:
    queue(store, "busy", 100, T0, timedelta(milliseconds=10))
    queue(store, "quiet", 1, T0 + timedelta(milliseconds=500), timedelta(0))  # behind 50 of busy's
    first = accounts_due(store, 10)
    assert len(first) == 10 and first[0:2] == ["busy", "quiet"]  # each account's oldest, oldest first


def test_the_oldest_posts_go_first_when_accounts_are_even(store: ReadStore) -> None:
    for n in range(5):
        queue(store, f"acct-{n}", 3, T0 + timedelta(seconds=n), timedelta(minutes=1))
    assert accounts_due(store, 5) == [f"acct-{n}" for n in range(5)]


def test_a_blocked_accounts_backlog_does_not_hide_the_others(store: ReadStore) -> None:
    queue(store, "paced", 2000, T0, timedelta(milliseconds=1))
    queue(store, "other", 2, T0 + timedelta(minutes=5), timedelta(seconds=1))
    assert set(accounts_due(store, 10)) == {"paced"}  # everything older is the paced account's
    assert accounts_due(store, 10, exclude=[("w", "paced")]) == ["other", "other"]


def test_nothing_is_due_before_its_instant(store: ReadStore) -> None:
    queue(store, "later", 3, T0 + timedelta(hours=2), timedelta(seconds=1))
    assert accounts_due(store, 10) == []


def test_a_blocked_account_leaves_its_namesake_in_another_workspace_due(store: ReadStore) -> None:
    queue(store, "main", 3, T0, timedelta(seconds=1), workspace="agency-a")
    queue(store, "main", 3, T0, timedelta(seconds=1), workspace="agency-b")
    found = SqlDueIndex(store).due(T0 + timedelta(hours=1), 10, [("agency-a", "main")])
    assert {(post.workspace, post.account) for post in found} == {("agency-b", "main")} and len(found) == 3


def _plan(store: ReadStore, sql: str, params: list[object]) -> str:
    with store.reading() as cursor:
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.postgres
def test_a_queue_grown_by_thousands_is_read_through_its_indexes_at_once(postgres_url: str) -> None:
    """3,000 posts scheduled in one go (a burst), folded before PostgreSQL's autovacuum comes by:
    the due query reads the oldest queued posts in order, and the deadline look-up reads no
    queued post, rather than each reading and sorting the whole queue."""
    from domain.content import Content
    from projections.due_index import DueIndex

    service = bootstrap(postgres_url)
    due = datetime.now(UTC) + timedelta(minutes=5)
    for start in range(0, 3000, 1000):
        service.posts.schedule_many(
            [
                {
                    "account": f"acct-{n % 100}",
                    "platform": "mastodon",
                    "content": Content(text=f"burst {n}"),
                    "scheduled_at": due,
                }
                for n in range(start, start + 1000)
            ]
        )
    service.runner(DueIndex()).catch_up()
    now = instant(due + timedelta(seconds=1))
    oldest = _plan(
        service.read_store,
        "SELECT post_id FROM due_index WHERE state = 'queued' AND not_before <= %s ORDER BY not_before LIMIT %s",
        [now, 80],
    )
    late = _plan(
        service.read_store, "SELECT post_id FROM due_index WHERE state = 'queued' AND deadline < %s LIMIT 10", [now]
    )
    found = SqlDueIndex(service.read_store).due(due + timedelta(seconds=1), 10)
    service.close()
    assert "Index Scan using due_index_queued" in oldest, oldest
    assert "due_index_deadline" in late and "Seq Scan" not in late, late
    assert len(found) == 10 and len({post.account for post in found}) == 10  # each account's oldest first
