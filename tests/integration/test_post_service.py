"""The command service on a real SQLite file and a real PostgreSQL: the same scenarios on both."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from domain.content import Content
from domain.errors import DueTimeInPast, NaiveDatetime, PostFrozen, PostNotFound
from domain.outcomes import Observation, Observed, RemotePost
from infrastructure.bootstrap import Herald, bootstrap
from services.results import OutcomeReport
from tests.clock import ManualClock


def schedule(service: Herald, clock: ManualClock, minutes: float = 30, **extra: Any) -> UUID:
    return service.posts.schedule(
        account="acme",
        platform="mastodon",
        content=Content(text="Hello"),
        scheduled_at=clock.now + timedelta(minutes=minutes),
        **extra,
    )


def test_a_post_survives_reopening_the_store(store_url: str, clock: ManualClock) -> None:
    first = bootstrap(store_url, clock=clock)
    post_id = schedule(first, clock, external_id="crm-42")
    first.posts.edit_content(post_id, Content(text="Hello again"))
    first.close()

    second = bootstrap(store_url, clock=clock)
    post = second.posts.get_post(post_id)
    assert (post.state, post.content.text, post.external_id) == ("queued", "Hello again", "crm-42")
    assert [record.name for record in second.posts.history(post_id)] == [
        "Drafted",
        "Scheduled",
        "ContentEdited",
    ]
    second.close()


def test_a_full_life_with_a_retry_and_a_reconciliation(service: Herald, clock: ManualClock) -> None:
    post_id = schedule(service, clock, minutes=10)
    clock.advance(minutes=10)
    assert service.dispatch.claim(post_id, worker="w1").ok
    service.dispatch.record_outcome(post_id, 1, Observed(kind=Observation.SERVER_ERROR, http_status=503))
    waiting = service.posts.get_post(post_id)
    assert waiting.state == "queued" and waiting.next_attempt_at is not None
    assert service.dispatch.claim(post_id, worker="w1").code == "not_due"

    clock.now = waiting.next_attempt_at
    assert service.dispatch.claim(post_id, worker="w2").attempt == 2
    service.dispatch.record_outcome(post_id, 2, Observed(kind=Observation.TIMEOUT_AFTER_SEND))
    assert service.posts.get_post(post_id).state == "ambiguous"
    service.dispatch.confirm_delivered(post_id, RemotePost(remote_id="r-1"), evidence="found by key")

    post = service.posts.get_post(post_id)
    assert (post.state, post.remote_id, post.reconciled) == ("delivered", "r-1", True)
    names = [record.name for record in service.posts.history(post_id)]
    assert names == [
        "Drafted",
        "Scheduled",
        "DispatchClaimed",
        "AttemptFailed",
        "DispatchClaimed",
        "OutcomeAmbiguous",
        "Delivered",
    ]


def test_batch_claims_and_outcomes_in_one_go(service: Herald, clock: ManualClock) -> None:
    ids = [schedule(service, clock, minutes=5) for _ in range(20)]
    late = schedule(service, clock, minutes=50)
    clock.advance(minutes=5)
    results = service.dispatch.claim_many([*ids, late], worker="w1")
    assert [r.ok for r in results] == [True] * 20 + [False]
    assert results[-1].code == "not_due"

    reports = [
        OutcomeReport(post_id, 1, Observed(kind=Observation.ACCEPTED, remote_id=f"r{n}"))
        for n, post_id in enumerate(ids)
    ]
    assert all(r.ok for r in service.dispatch.record_outcomes(reports))
    assert {service.posts.get_post(i).state for i in ids} == {"delivered"}


def test_outcomes_are_recorded_when_a_claimed_post_changed_since(store_url: str, clock: ManualClock) -> None:
    """The worker records outcomes on the posts as its claim left them; one was changed by
    another process meanwhile (a container prepared), so that one is read afresh, not lost."""
    worker = bootstrap(store_url, clock=clock)
    other = bootstrap(store_url, clock=clock)
    ids = [schedule(worker, clock, minutes=1) for _ in range(3)]
    clock.advance(minutes=1)
    assert all(r.ok for r in worker.dispatch.claim_many(ids, worker="w1"))
    other.dispatch.prepare_container(ids[0], 1, "c-1")

    reports = [
        OutcomeReport(post_id, 1, Observed(kind=Observation.ACCEPTED, remote_id=f"r{n}"))
        for n, post_id in enumerate(ids)
    ]
    assert all(r.ok for r in worker.dispatch.record_outcomes(reports))
    assert [r.name for r in worker.posts.history(ids[0])][-3:] == [
        "DispatchClaimed",
        "ContainerPrepared",
        "Delivered",
    ]
    assert {worker.posts.get_post(i).state for i in ids} == {"delivered"}
    worker.close()
    other.close()


def test_a_claim_decides_on_the_stored_post_when_this_process_saw_an_older_one(
    store_url: str, clock: ManualClock
) -> None:
    """The worker last saw its posts ambiguous; another process released one for a retry. The
    worker's next claim is not refused on its old view: it reads that post afresh."""
    worker = bootstrap(store_url, clock=clock)
    other = bootstrap(store_url, clock=clock)
    ids = [schedule(worker, clock, minutes=1) for _ in range(2)]
    clock.advance(minutes=1)
    assert all(r.ok for r in worker.dispatch.claim_many(ids, worker="w1"))
    timeouts = [OutcomeReport(i, 1, Observed(kind=Observation.TIMEOUT_AFTER_SEND)) for i in ids]
    assert {r.state for r in worker.dispatch.record_outcomes(timeouts)} == {"ambiguous"}
    other.dispatch.release_for_retry(ids[0], evidence="not on the platform")

    again = worker.dispatch.claim_many(ids, worker="w1")
    assert [(r.ok, r.state, r.attempt) for r in again] == [(True, "dispatched", 2), (False, None, None)]
    worker.close()
    other.close()


def test_a_claim_on_a_post_canceled_elsewhere_is_refused_for_what_it_is(store_url: str, clock: ManualClock) -> None:
    """The worker last saw the post queued for a retry; another process canceled it. The claim
    conflicts, the worker reads the post afresh, and the answer is the refusal, not a lost race."""
    worker = bootstrap(store_url, clock=clock)
    other = bootstrap(store_url, clock=clock)
    ids = [schedule(worker, clock, minutes=1) for _ in range(2)]
    clock.advance(minutes=1)
    assert all(r.ok for r in worker.dispatch.claim_many(ids, worker="w1"))
    failures = [OutcomeReport(i, 1, Observed(kind=Observation.SERVER_ERROR, http_status=503)) for i in ids]
    assert {r.state for r in worker.dispatch.record_outcomes(failures)} == {"queued"}
    other.posts.cancel(ids[0])
    clock.advance(minutes=10)

    again = worker.dispatch.claim_many(ids, worker="w1")
    assert [(r.ok, r.code) for r in again] == [(False, "post_terminal"), (True, None)]
    assert worker.posts.get_post(ids[0]).state == "canceled"
    worker.close()
    other.close()


def test_a_conflict_in_a_batch_refuses_only_that_post(
    store_url: str, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker claims from a stale view (here: a cache that never fast-forwards); the posts
    another worker claimed meanwhile are refused, the rest of its batch still succeeds."""
    first = bootstrap(store_url, clock=clock)
    ids = [schedule(first, clock, minutes=1) for _ in range(6)]
    monkeypatch.setenv("AGGREGATE_CACHE_MAXSIZE", "100")
    monkeypatch.setenv("AGGREGATE_CACHE_FASTFORWARD", "n")
    stale = bootstrap(store_url, clock=clock)
    stale.read_many = None  # read through the (stale) repository cache, as a lagging worker would
    for post_id in ids:
        stale.posts.get_post(post_id)
    clock.advance(minutes=1)

    assert all(r.ok for r in first.dispatch.claim_many(ids[:2], worker="first"))
    outcome = stale.dispatch.claim_many(ids, worker="stale")

    assert [r.ok for r in outcome] == [False, False, True, True, True, True]
    assert {r.code for r in outcome[:2]} == {"already_claimed"}
    workers = [first.posts.get_post(i).worker for i in ids]
    assert workers == ["first", "first", "stale", "stale", "stale", "stale"]
    first.close()
    stale.close()


def test_refusals_are_named_and_change_nothing(service: Herald, clock: ManualClock) -> None:
    from datetime import datetime

    with pytest.raises(NaiveDatetime):
        service.posts.schedule(
            account="a",
            platform="x",
            content=Content(text="t"),
            scheduled_at=datetime(2030, 1, 1, 9, 0),
        )
    with pytest.raises(DueTimeInPast):
        schedule(service, clock, minutes=-1)
    with pytest.raises(PostNotFound):
        service.posts.get_post(uuid4())
    post_id = schedule(service, clock, minutes=0.5)  # inside the 60 s freeze
    with pytest.raises(PostFrozen):
        service.posts.reschedule(post_id, clock.now + timedelta(hours=1))
    assert len(service.posts.history(post_id)) == 2


def test_content_the_platform_would_refuse_is_refused_at_schedule_time(service: Herald, clock: ManualClock) -> None:
    from domain.content import ThreadPart
    from domain.validation import ContentInvalid

    too_long = Content(text="ok", thread=(ThreadPart(text="a" * 301),))
    with pytest.raises(ContentInvalid) as refusal:
        service.posts.schedule(account="a", platform="x", content=too_long, scheduled_at=clock.now + timedelta(hours=1))
    assert [p.message for p in refusal.value.problems] == ["part 2: text is 301 weighted characters, X allows 280"]
    post_id = schedule(service, clock, minutes=30)
    with pytest.raises(ContentInvalid):
        service.posts.edit_content(post_id, Content(text="a" * 501))
    assert service.posts.get_post(post_id).content.text == "Hello"


def test_concurrent_saves_on_the_real_store_each_land_once_and_a_stale_one_fails_alone(
    store_url: str, clock: ManualClock
) -> None:
    """Threads scheduling at once share transactions (group commit); a stale change among
    them is refused on its own and every other post is stored, whole."""
    import threading

    first = bootstrap(store_url, clock=clock)
    second = bootstrap(store_url, clock=clock)
    try:
        target = schedule(first, clock)
        stale = first.posts.posts.get(target)
        second.posts.cancel(target)  # another process changes it first
        made: list[UUID] = []
        refused: list[Exception] = []
        start = threading.Barrier(9)

        def one(n: int) -> None:
            start.wait()
            if n == 0:
                stale.cancel(now=clock.now, reason="too late")
                try:
                    first.posts.posts.save(stale)
                except Exception as error:
                    refused.append(error)
            else:
                made.append(schedule(first, clock, external_id=f"together-{n}"))

        threads = [threading.Thread(target=one, args=(n,)) for n in range(9)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert [type(error).__name__ for error in refused] == ["ConcurrentChange"]
        reread = bootstrap(store_url, clock=clock)
        try:
            assert sorted(reread.posts.get_post(post_id).external_id or "" for post_id in made) == sorted(
                f"together-{n}" for n in range(1, 9)
            )
            assert [record.name for record in reread.posts.history(target)][-1] == "Canceled"
            assert len(reread.posts.history(target)) == 3  # drafted, scheduled, canceled once
        finally:
            reread.close()
    finally:
        first.close()
        second.close()


def test_the_timeline_read_sees_a_post_newer_than_its_projection(store_url: str, clock: ManualClock) -> None:
    """The API's one-statement timeline read catches up when the post has moved on since the
    projection last ran, and answers nothing for a post the log does not hold."""
    from infrastructure.api.context import Context

    service = bootstrap(store_url, clock=clock)
    try:
        ctx: Context = service.api_context()
        post_id = schedule(service, clock)
        assert [row["event"] for row in ctx.own_timeline("default", str(post_id))] == ["Drafted", "Scheduled"]
        service.posts.cancel(post_id)
        assert [row["event"] for row in ctx.own_timeline("default", str(post_id))][-1] == "Canceled"
        assert service.timeline.rows_and_latest(str(uuid4())) == (None, [])
        with pytest.raises(PostNotFound):
            ctx.own_timeline("another-workspace", str(post_id))
    finally:
        service.close()
