"""Scenarios of a post's life, each refusal with its named error."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from domain.content import Content, ThreadPart
from domain.decisions import AccountStatus, RetryPolicy
from domain.errors import (
    AlreadyClaimed,
    DueTimeInPast,
    EmptyContent,
    InvalidTransition,
    NaiveDatetime,
    NoOpenClaim,
    NotDue,
    PostFrozen,
    PostIsTerminal,
)
from domain.outcomes import Observation, Observed, RemotePost, Search
from domain.post import Post, PostState
from tests.clock import ManualClock
from tests.unit.builders import claimed_post, new_draft, queued_post

POLICY = RetryPolicy(base_seconds=10, cap_seconds=600, max_attempts=3, jitter=0.0)


def events_of(post: Post) -> list[str]:
    return [type(event).__name__ for event in post.pending_events]


def test_a_scheduled_post_is_queued_with_a_deadline_after_its_due_time(clock: ManualClock) -> None:
    post = queued_post(clock, in_minutes=60)
    assert post.state is PostState.QUEUED
    assert post.due_at == clock.now + timedelta(minutes=60)
    assert post.deadline == post.due_at + timedelta(hours=1)
    assert events_of(post) == ["Drafted", "Scheduled"]


def test_naive_datetimes_are_refused(clock: ManualClock) -> None:
    post = new_draft(clock)
    with pytest.raises(NaiveDatetime) as refusal:
        post.schedule(datetime(2030, 1, 1, 9, 0), now=clock())
    assert refusal.value.field == "scheduled_at"
    assert post.state is PostState.DRAFT


def test_a_due_time_in_the_past_is_refused_unless_publishing_now(clock: ManualClock) -> None:
    post = new_draft(clock)
    with pytest.raises(DueTimeInPast):
        post.schedule(clock.now - timedelta(seconds=1), now=clock())
    post.schedule(clock.now - timedelta(days=1), now=clock(), publish_now=True)
    assert post.due_at == clock.now


@pytest.mark.parametrize("text", ["", "   \n"])
def test_empty_content_is_refused(clock: ManualClock, text: str) -> None:
    with pytest.raises(EmptyContent):
        new_draft(clock, text=text)


def test_an_empty_thread_part_is_refused_and_named(clock: ManualClock) -> None:
    post = new_draft(clock)
    with pytest.raises(EmptyContent) as refusal:
        post.edit_content(Content(text="first", thread=(ThreadPart(text=" "),)), now=clock())
    assert refusal.value.field == "content.thread[0].text"
    assert post.content_version == 1


def test_editing_a_queued_post_makes_a_new_publish_key(clock: ManualClock) -> None:
    post = queued_post(clock)
    before = post.publish_key
    post.edit_content(Content(text="Better words"), now=clock())
    assert post.content_version == 2
    assert post.publish_key != before


def test_no_edit_or_reschedule_inside_the_freeze_window(clock: ManualClock) -> None:
    post = queued_post(clock, in_minutes=10)
    clock.advance(minutes=6)  # 4 minutes before due; the freeze window is 5
    with pytest.raises(PostFrozen) as refusal:
        post.edit_content(Content(text="late change"), now=clock())
    assert "freeze window" in refusal.value.message
    with pytest.raises(PostFrozen):
        post.reschedule(clock.now + timedelta(hours=1), now=clock())


def test_no_edit_once_claimed_even_after_a_retry(clock: ManualClock) -> None:
    post = claimed_post(clock)
    with pytest.raises(PostFrozen):
        post.edit_content(Content(text="changed"), now=clock())
    post.record_outcome(
        attempt=1,
        observed=Observed(kind=Observation.SERVER_ERROR, http_status=503),
        policy=POLICY,
        seed=1,
        now=clock(),
    )
    assert post.state is PostState.QUEUED
    with pytest.raises(PostFrozen):
        post.reschedule(clock.now + timedelta(hours=2), now=clock())


def test_a_claim_before_due_is_refused(clock: ManualClock) -> None:
    post = queued_post(clock, in_minutes=10)
    with pytest.raises(NotDue):
        post.claim(worker="w", lease=timedelta(seconds=30), now=clock())


def test_a_claim_may_be_made_a_moment_ahead_and_its_attempt_is_sent_at_the_instant(clock: ManualClock) -> None:
    post = queued_post(clock, in_minutes=1)
    with pytest.raises(NotDue):  # a minute is more than the moment asked for
        post.claim(worker="w", lease=timedelta(seconds=30), now=clock(), ahead=timedelta(seconds=1))
    with pytest.raises(NotDue):  # and more than a claim may ever look ahead
        post.claim(worker="w", lease=timedelta(seconds=30), now=clock(), ahead=timedelta(minutes=2))
    clock.advance(seconds=59.5)
    post.claim(worker="w", lease=timedelta(seconds=30), now=clock(), ahead=timedelta(seconds=1))
    assert post.state is PostState.DISPATCHED
    assert post.intent().send_at == post.due_at  # not sent before its instant
    with pytest.raises(InvalidTransition):  # claimed: fixed, as inside its freeze
        post.cancel(now=clock())


def test_a_second_claim_is_refused_as_already_claimed(clock: ManualClock) -> None:
    post = claimed_post(clock)
    with pytest.raises(AlreadyClaimed):
        post.claim(worker="worker-2", lease=timedelta(seconds=30), now=clock())


def test_an_outcome_needs_the_matching_open_claim(clock: ManualClock) -> None:
    post = queued_post(clock)
    accepted = Observed(kind=Observation.ACCEPTED, remote_id="r1", http_status=200)
    with pytest.raises(NoOpenClaim):
        post.record_outcome(attempt=1, observed=accepted, policy=POLICY, seed=0, now=clock())
    post = claimed_post(ManualClock())
    with pytest.raises(NoOpenClaim):
        post.record_outcome(attempt=2, observed=accepted, policy=POLICY, seed=0, now=clock())


def test_delivery_keeps_the_remote_id_and_absorbs_everything_after(clock: ManualClock) -> None:
    post = claimed_post(clock)
    post.record_outcome(
        attempt=1,
        observed=Observed(kind=Observation.ACCEPTED, remote_id="109", permalink="https://m/109"),
        policy=POLICY,
        seed=0,
        now=clock(),
    )
    assert (post.state, post.remote_id, post.permalink) == (
        PostState.DELIVERED,
        "109",
        "https://m/109",
    )
    for command in (
        lambda: post.cancel(now=clock()),
        lambda: post.edit_content(Content(text="x"), now=clock()),
        lambda: post.claim(worker="w", lease=timedelta(seconds=1), now=clock()),
        lambda: post.fail("deadline_passed", "-", now=clock()),
    ):
        with pytest.raises(PostIsTerminal):
            command()


def test_a_timeout_after_send_is_ambiguous_and_the_reconciler_finds_it(clock: ManualClock) -> None:
    post = claimed_post(clock)
    post.record_outcome(
        attempt=1,
        observed=Observed(kind=Observation.TIMEOUT_AFTER_SEND),
        policy=POLICY,
        seed=0,
        now=clock(),
    )
    assert post.state is PostState.AMBIGUOUS
    post.confirm_delivered(RemotePost(remote_id="r9"), evidence="found by key", now=clock())
    assert post.state is PostState.DELIVERED and post.reconciled


def test_an_expired_lease_goes_ambiguous_never_straight_back_to_the_queue(
    clock: ManualClock,
) -> None:
    post = claimed_post(clock)
    with pytest.raises(InvalidTransition):
        post.expire_lease(now=clock())
    clock.advance(seconds=31)
    post.expire_lease(now=clock())
    assert post.state is PostState.AMBIGUOUS
    post.release_for_retry(evidence="not on the platform", now=clock())
    assert post.state is PostState.QUEUED
    post.claim(worker="w2", lease=timedelta(seconds=30), now=clock())
    assert post.attempt == 2


def test_server_errors_back_off_then_exhaust_the_policy(clock: ManualClock) -> None:
    post = claimed_post(clock)
    waits = []
    for attempt in (1, 2):
        post.record_outcome(
            attempt=attempt,
            observed=Observed(kind=Observation.SERVER_ERROR, http_status=502),
            policy=POLICY,
            seed=attempt,
            now=clock(),
        )
        assert post.state is PostState.QUEUED
        assert post.next_attempt_at is not None
        waits.append(post.next_attempt_at - clock.now)
        with pytest.raises(NotDue):
            post.claim(worker="w", lease=timedelta(seconds=30), now=clock())
        clock.now = post.next_attempt_at
        post.claim(worker="w", lease=timedelta(seconds=30), now=clock())
    assert waits == [timedelta(seconds=10), timedelta(seconds=20)]
    post.record_outcome(
        attempt=3,
        observed=Observed(kind=Observation.SERVER_ERROR, http_status=502),
        policy=POLICY,
        seed=3,
        now=clock(),
    )
    # a 5xx may come after the platform kept the post: it is looked for before it fails
    assert (post.state, post.give_up) == (PostState.AMBIGUOUS, "retries_exhausted")
    post.reconcile(
        Search(found=(), complete=True, how="read every post since the first attempt"), policy=POLICY, now=clock()
    )
    assert (post.state, post.failure_reason) == (PostState.FAILED, "retries_exhausted")
    assert "Proven absent: read every post since the first attempt" in (post.remediation or "")


def test_a_rejection_fails_at_once_with_the_platforms_code(clock: ManualClock) -> None:
    post = claimed_post(clock)
    post.record_outcome(
        attempt=1,
        observed=Observed(kind=Observation.REJECTED, http_status=422, platform_code="too_long"),
        policy=POLICY,
        seed=0,
        now=clock(),
    )
    assert (post.state, post.failure_reason) == (PostState.FAILED, "content_rejected")
    failed = post.pending_events[-1]
    assert isinstance(failed, Post.Failed)
    assert failed.observed is not None and failed.observed.platform_code == "too_long"


def test_cancel_is_refused_once_dispatched(clock: ManualClock) -> None:
    post = claimed_post(clock)
    with pytest.raises(InvalidTransition):
        post.cancel(now=clock())


def test_a_401_on_a_token_read_before_a_reconnect_is_mended_by_that_reconnect(clock: ManualClock) -> None:
    """The attempt read the account's old token at its claim; the owner reconnected while it was
    in flight; the 401 arrives after. The reconnect already mended it: the post goes out again."""
    post = claimed_post(clock)
    claimed_at = clock.now
    clock.advance(seconds=2)
    reconnected_at = clock.now
    clock.advance(seconds=2)
    post.record_outcome(
        attempt=1,
        observed=Observed(kind=Observation.AUTH_REVOKED, http_status=401, message="invalid_token"),
        policy=POLICY,
        seed=0,
        now=clock(),
    )
    assert (post.state, post.hold_reason, post.held_at) == (PostState.HELD, "auth_revoked", claimed_at)
    account = AccountStatus(exists=True, connected=True, connected_since=reconnected_at, readable=True, supported=True)
    post.release_hold(account, now=clock())
    assert post.state is PostState.QUEUED
    assert events_of(post)[-2:] == ["Held", "HoldReleased"]


def test_a_hold_is_not_mended_by_a_connection_older_than_the_token_it_refused(clock: ManualClock) -> None:
    post = claimed_post(clock)
    connected_before = clock.now - timedelta(minutes=1)
    post.record_outcome(
        attempt=1,
        observed=Observed(kind=Observation.AUTH_REVOKED, http_status=401),
        policy=POLICY,
        seed=0,
        now=clock(),
    )
    account = AccountStatus(
        exists=True, connected=True, connected_since=connected_before, readable=True, supported=True
    )
    post.release_hold(account, now=clock())
    assert post.state is PostState.HELD


def test_only_a_failed_post_is_redriven_and_only_once(clock: ManualClock) -> None:
    from uuid import uuid4

    from domain.errors import RedriveRefused

    for live_maybe in (queued_post(clock), claimed_post(clock)):
        with pytest.raises(RedriveRefused):
            live_maybe.redrive(uuid4(), actor="support", now=clock())
    post = queued_post(clock)
    clock.advance(hours=3)
    post.pass_deadline(now=clock())
    assert post.state is PostState.FAILED
    again = uuid4()
    post.redrive(again, actor="support", now=clock())
    assert post.redriven_as == again and post.state is PostState.FAILED
    with pytest.raises(RedriveRefused) as refusal:
        post.redrive(uuid4(), actor="support", now=clock())
    assert str(again) in str(refusal.value)
