"""Dispatchers share the accounts instead of racing for them (PostgreSQL): three dispatcher
processes split a burst by account; one is SIGKILLed mid-burst and the two left take its
accounts over; the simulator's truth shows every post once."""

from __future__ import annotations

import signal
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from domain.content import Content
from infrastructure.bootstrap import bootstrap
from infrastructure.persistence.partitions import LIVE, PARTITIONS, lock_class
from infrastructure.store import store_env
from services.results import PostSettings
from tests.conftest import POSTGRES_URL
from tests.processes import admin, dispatcher_log, reaped, start_dispatcher, start_simulator

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

POSTS, ACCOUNTS = 1200, 48


def live_dispatchers(schema: str) -> int:
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        return len(conn.execute(LIVE, [lock_class(schema)]).fetchall())  # type: ignore[arg-type]


def indexed(schema: str, posts: list[object]) -> dict[str, object]:
    """What the store says of posts left undelivered: some of their due index rows (with the
    share of two that holds each), the due index's position against the log's end, what was
    set aside, and who is live."""
    ids = [str(post) for post in posts]
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'SET search_path TO "{schema}"')
        return {
            "rows": conn.execute(
                "SELECT post_id, state, not_before, account,"
                f" mod(hashtext(workspace || '/' || account)::bigint & {PARTITIONS - 1}, 2)"
                " FROM due_index WHERE post_id = ANY(%s) LIMIT 5",
                [ids],
            ).fetchall(),
            "tracking": conn.execute("SELECT name, position FROM projection_tracking").fetchall(),
            "log_end": conn.execute("SELECT max(notification_id) FROM herald_events").fetchone(),
            "quarantined": conn.execute("SELECT count(*) FROM projection_quarantine").fetchone(),
            "live": conn.execute(LIVE, [lock_class(schema)]).fetchall(),  # type: ignore[arg-type]
        }


def wait(what: str, done: object, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not done():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"{what}: not within {seconds:.0f}s"
        time.sleep(0.1)


def test_three_dispatchers_split_the_accounts_and_survivors_take_a_killed_ones_share(postgres_url: str) -> None:
    schema = store_env(postgres_url)["POSTGRES_SCHEMA"]
    # each dispatcher sends 8 at a time, 50 ms each: at most 160 posts/s, so the one killed
    # cannot have finished its ~400 by the time a tenth of the burst is out
    simulator, platform_url = start_simulator("latency_ms=50")
    service = bootstrap(postgres_url, settings=PostSettings(grace=timedelta(hours=1), freeze=timedelta(0)))
    env = {"HERALD_LEASE_SECONDS": "8"}
    options = ("--timeout", "2", "--batch-size", "8", "--in-flight", "8")
    workers = [start_dispatcher(postgres_url, platform_url, f"part-{n}", *options, **env) for n in range(3)]
    with reaped(simulator, *workers):
        wait("three dispatchers live", lambda: live_dispatchers(schema) == 3, 60)
        due = datetime.now(UTC) + timedelta(seconds=5)  # each has looked by then; 1,200 saves take ~2 s on a slow box
        ids = service.posts.schedule_many(
            [
                {
                    "account": f"acct-{n % ACCOUNTS}",
                    "platform": "x",
                    "content": Content(text=f"p{n}"),
                    "scheduled_at": due,
                }
                for n in range(POSTS)
            ]
        )

        wait("a tenth of the burst out", lambda: len(admin(platform_url, "/admin/truth")["posts"]) >= POSTS // 10)
        workers[0].send_signal(signal.SIGKILL)
        killed_at = datetime.now(UTC)
        workers[0].wait(timeout=10)
        wait("two dispatchers live", lambda: live_dispatchers(schema) == 2, 10)
        deadline = time.monotonic() + 180
        while unsettled := [p for p in ids if service.posts.get_post(p).state != "delivered"]:
            if time.monotonic() > deadline:  # say what is stuck, and where, for whoever reads the failure
                stuck = {str(p): [r.name for r in service.posts.history(p)][-4:] for p in unsettled[:5]}
                logs = [dispatcher_log(worker)[-1500:] for worker in workers[1:]]
                found = indexed(schema, unsettled)
                raise AssertionError(
                    f"{len(unsettled)} posts not delivered within 180s: {stuck}; the store: {found}; logs: {logs}"
                )
            time.sleep(0.2)
        truth = admin(platform_url, "/admin/truth")["posts"]

    assert len(truth) == POSTS and len({t["publish_key"] for t in truth}) == POSTS, "a post went out twice"
    before: dict[str, set[str]] = defaultdict(set)  # account -> the dispatchers that claimed its posts
    after: dict[str, set[str]] = defaultdict(set)
    for post_id in ids:
        account = service.posts.get_post(post_id).account
        for record in service.posts.history(post_id):
            if record.name == "DispatchClaimed":
                (before if record.at < killed_at else after)[account].add(record.data["worker"])
    shared = {account: found for account, found in before.items() if len(found) > 1}
    assert not shared, f"accounts claimed by more than one dispatcher at once: {shared}"
    assert set().union(*before.values()) == {"part-0", "part-1", "part-2"}, "the three did not all take a share"
    orphaned = [account for account, found in before.items() if found == {"part-0"}]
    taken = set().union(*(after[account] for account in orphaned))
    assert orphaned and taken and "part-0" not in taken, "the survivors did not take the killed one's accounts"
    service.close()


def folding(process: object) -> str | None:
    """What a dispatcher last said of the due index: "folds", "reads", or None (not yet)."""
    log = dispatcher_log(process)  # type: ignore[arg-type]
    folds, reads = log.rfind("folding the due index"), log.rfind("reading the due index another dispatcher folds")
    return None if folds == reads == -1 else ("folds" if folds > reads else "reads")


def test_one_dispatcher_folds_the_due_index_and_a_survivor_takes_over_when_it_is_killed(postgres_url: str) -> None:
    schema = store_env(postgres_url)["POSTGRES_SCHEMA"]
    simulator, platform_url = start_simulator("latency_ms=2")
    service = bootstrap(postgres_url, settings=PostSettings(grace=timedelta(hours=1), freeze=timedelta(0)))
    workers = [
        start_dispatcher(postgres_url, platform_url, f"fold-{n}", "--timeout", "2", HERALD_LOG_LEVEL="info")
        for n in range(3)
    ]
    with reaped(simulator, *workers):
        wait("three dispatchers live", lambda: live_dispatchers(schema) == 3, 60)
        wait("one folds, two read", lambda: sorted(map(folding, workers), key=str) == ["folds", "reads", "reads"], 30)
        folder = next(worker for worker in workers if folding(worker) == "folds")
        folder.send_signal(signal.SIGKILL)
        folder.wait(timeout=10)
        survivors = [worker for worker in workers if worker is not folder]
        try:
            wait("a survivor folds", lambda: sorted(map(folding, survivors), key=str) == ["folds", "reads"], 30)
        except AssertionError as late:  # say who is live and what each survivor said last
            said = [dispatcher_log(worker)[-800:] for worker in survivors]
            raise AssertionError(f"{late}; live: {live_dispatchers(schema)}; the survivors said: {said}") from None
        due = datetime.now(UTC) + timedelta(seconds=2)  # beyond the due hints: only the due index finds them
        ids = service.posts.schedule_many(
            [
                {"account": f"acct-{n}", "platform": "x", "content": Content(text=f"f{n}"), "scheduled_at": due}
                for n in range(40)
            ]
        )
        wait("every post delivered", lambda: all(service.posts.get_post(p).state == "delivered" for p in ids), 60)
        truth = admin(platform_url, "/admin/truth")["posts"]
    service.close()
    assert len(truth) == 40 and len({t["publish_key"] for t in truth}) == 40
