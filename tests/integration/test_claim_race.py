"""The claim is the lock: N processes race to claim the same due posts; one claim each exists."""

from __future__ import annotations

import multiprocessing
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest

from domain.content import Content
from infrastructure.bootstrap import bootstrap
from tests.clock import ManualClock

PROCESSES = 4
POSTS = 8


def claim_all(url: str, now: Any, post_ids: list[UUID], worker: str, barrier: Any, results: Any) -> None:
    try:
        service = bootstrap(url, clock=ManualClock(now))
        for post_id in post_ids:
            service.posts.get_post(post_id)  # warm up: everyone has read the post before the race
    except Exception as problem:
        barrier.abort()  # the others must not wait for a racer that will never come
        results.put(("error", worker, False, repr(problem)))
        raise
    barrier.wait(timeout=60)
    for post_id in post_ids:
        result = service.dispatch.claim(post_id, worker=worker)
        results.put((str(post_id), worker, result.ok, result.code))
    service.close()


@pytest.mark.slow
def test_racing_processes_make_exactly_one_claim_per_post(store_url: str, clock: ManualClock) -> None:
    service = bootstrap(store_url, clock=clock)
    post_ids = [
        service.posts.schedule(
            account="acme",
            platform="x",
            content=Content(text=f"post {n}"),
            scheduled_at=clock.now + timedelta(minutes=2),
        )
        for n in range(POSTS)
    ]
    due = clock.advance(minutes=2)

    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES)
    results = context.Queue()
    workers = [
        context.Process(target=claim_all, args=(store_url, due, post_ids, f"worker-{n}", barrier, results))
        for n in range(PROCESSES)
    ]
    for process in workers:
        process.start()
    answers = []
    while len(answers) < PROCESSES * POSTS:
        answer = results.get(timeout=120)
        assert answer[0] != "error", f"a racer could not start: {answer}"
        answers.append(answer)
    for process in workers:
        process.join(timeout=60)
        assert process.exitcode == 0

    for post_id in post_ids:
        mine = [a for a in answers if a[0] == str(post_id)]
        assert len(mine) == PROCESSES
        winners = [a for a in mine if a[2]]
        assert len(winners) == 1, mine
        assert {a[3] for a in mine if not a[2]} == {"already_claimed"}
        claims = [r for r in service.posts.history(post_id) if r.name == "DispatchClaimed"]
        assert len(claims) == 1
        assert claims[0].data["worker"] == winners[0][1]
    service.close()
