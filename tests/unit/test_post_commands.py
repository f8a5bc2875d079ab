"""The service rules, on the in-memory store: scheduling checks content and the posting
window before anything is saved; claims check content again; batches refuse post by post."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from domain.content import Content
from domain.errors import PostNotFound, VersionMismatch
from domain.outcomes import Observation, Observed
from domain.post import Post
from domain.quota import QuotaExceeded
from domain.validation import ContentInvalid
from services.results import OutcomeReport
from tests.clock import ManualClock
from tests.unit.fakes import Services, services


@pytest.fixture
def world(clock: ManualClock) -> Services:
    return services(clock)


def schedule(world: Services, clock: ManualClock, minutes: float = 10, text: str = "Hello", **extra: Any) -> UUID:
    return world.posts.schedule(
        account="acme",
        platform="x",
        content=Content(text=text),
        scheduled_at=clock.now + timedelta(minutes=minutes),
        **extra,
    )


def test_content_the_platform_would_refuse_is_refused_before_anything_is_saved(
    world: Services, clock: ManualClock
) -> None:
    with pytest.raises(ContentInvalid) as refusal:
        schedule(world, clock, text="a" * 281)
    assert refusal.value.problems[0].code == "text_too_long"
    assert world.events.recorder.max_notification_id() in (None, 0)


def test_a_full_posting_window_refuses_with_the_next_free_instant_or_moves_there(
    world: Services, clock: ManualClock
) -> None:
    due = clock.now + timedelta(minutes=10)
    world.bookings.booked[("default", "acme")] = {uuid4(): due for _ in range(200)}  # X: 200 per 15 min
    with pytest.raises(QuotaExceeded) as refusal:
        schedule(world, clock)
    moved = world.posts.get_post(schedule(world, clock, when_full="move"))
    assert moved.due_at == refusal.value.next_free > due


def test_the_accounts_own_limit_applies_at_schedule_and_again_at_claim(world: Services, clock: ManualClock) -> None:
    world.account_settings.settings[("default", "big")] = {"max_characters": 1000}
    post_id = world.posts.schedule(
        account="big", platform="mastodon", content=Content(text="a" * 700), scheduled_at=clock.now
    )
    world.account_settings.settings[("default", "big")] = {"max_characters": 500}  # the instance changed its limit
    (claim,) = world.dispatch.claim_many([post_id], worker="w")
    post = world.posts.get_post(post_id)
    assert claim.ok and (post.state, post.failure_reason) == ("failed", "content_rejected")
    assert "Mastodon allows 500" in (post.remediation or "")


def test_a_batch_keeps_each_accounts_own_limit_and_approval_and_reads_them_once(
    world: Services, clock: ManualClock
) -> None:
    world.account_settings.settings[("default", "big")] = {"max_characters": 1000}
    world.account_settings.settings[("default", "careful")] = {"approval": True}
    batch = [
        {"account": "big", "platform": "mastodon", "content": Content(text="a" * 700)},
        {"account": "careful", "platform": "mastodon", "content": Content(text="check me")},
        {"account": "plain", "platform": "mastodon", "content": Content(text="hi"), "scheduled_at": clock.now},
    ]
    big, careful, plain = world.posts.schedule_many(batch)
    assert [world.posts.get_post(p).state for p in (big, careful, plain)] == ["queued", "awaiting_approval", "queued"]
    assert world.account_settings.reads == 1  # one read for the batch's three accounts, not one per check
    with pytest.raises(ContentInvalid):  # 700 characters are over the default limit of an unknown account
        world.posts.schedule_many([{**batch[0], "account": "plain"}])


def test_a_batch_claim_refuses_only_the_posts_that_cannot_be_claimed(world: Services, clock: ManualClock) -> None:
    due = [schedule(world, clock, minutes=1) for _ in range(3)]
    later = schedule(world, clock, minutes=30)
    clock.advance(minutes=1)
    results = world.dispatch.claim_many([*due, later, uuid4()], worker="w")
    assert [r.code for r in results] == [None, None, None, "not_due", "post_not_found"]
    assert all(r.intent is not None and r.intent.attempt == 1 for r in results[:3])


def test_outcomes_are_recorded_as_the_decisions_choose(world: Services, clock: ManualClock) -> None:
    ids = [schedule(world, clock, minutes=0) for _ in range(3)]
    world.dispatch.claim_many(ids, worker="w")
    observed = [
        Observed(kind=Observation.ACCEPTED, remote_id="r-1"),
        Observed(kind=Observation.SERVER_ERROR, http_status=503),
        Observed(kind=Observation.TIMEOUT_AFTER_SEND),
    ]
    results = world.dispatch.record_outcomes(
        [OutcomeReport(post_id, 1, seen) for post_id, seen in zip(ids, observed, strict=True)]
    )
    assert [r.state for r in results] == ["delivered", "queued", "ambiguous"]


def test_a_command_that_breaks_on_one_post_leaves_the_batchs_others_recorded(
    world: Services, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = [schedule(world, clock, minutes=0) for _ in range(3)]
    world.dispatch.claim_many(ids, worker="w")
    record = Post.record_outcome

    def breaks_on_the_second(post: Post, **kwargs: Any) -> None:
        if post.id == ids[1]:
            raise TypeError("a bug met by this post alone")
        record(post, **kwargs)

    monkeypatch.setattr(Post, "record_outcome", breaks_on_the_second)
    accepted = Observed(kind=Observation.ACCEPTED, remote_id="r")
    results = world.dispatch.record_outcomes([OutcomeReport(post_id, 1, accepted) for post_id in ids])
    assert [(r.state, r.code) for r in results] == [("delivered", None), (None, "command_broke"), ("delivered", None)]
    assert results[1].message == "TypeError: a bug met by this post alone"
    assert world.posts.get_post(ids[1]).state == "dispatched"  # nothing saved: its lease runs out, visibly


def test_a_revision_from_a_stale_version_is_refused(world: Services, clock: ManualClock) -> None:
    post_id = schedule(world, clock)
    world.posts.edit_content(post_id, Content(text="Hello again"))
    with pytest.raises(VersionMismatch):
        world.posts.revise(post_id, expected_version=2, content=Content(text="stale"))
    assert world.posts.get_post(post_id).content.text == "Hello again"


def test_a_draft_is_scheduled_later_with_the_same_checks(world: Services, clock: ManualClock) -> None:
    draft = world.posts.draft(account="acme", platform="x", content=Content(text="later"))
    world.posts.schedule_draft(draft, clock.now + timedelta(hours=1))
    assert world.posts.get_post(draft).state == "queued"
    with pytest.raises(PostNotFound):
        world.posts.schedule_draft(uuid4(), clock.now)


def test_this_process_counts_its_own_bookings_before_the_index_shows_them(world: Services, clock: ManualClock) -> None:
    for _ in range(200):
        schedule(world, clock)
    with pytest.raises(QuotaExceeded):  # the fake index knows none of them
        schedule(world, clock)


@pytest.mark.parametrize("command", ["schedule", "publish_now"])
def test_one_post_reads_its_accounts_settings_once_for_its_limit_and_its_approval(
    world: Services, clock: ManualClock, command: str
) -> None:
    world.account_settings.settings[("default", "big")] = {"max_characters": 1000, "approval": True}
    when = {"scheduled_at": clock.now} if command == "schedule" else {}
    post_id = getattr(world.posts, command)(account="big", platform="mastodon", content=Content(text="a" * 700), **when)
    assert world.posts.get_post(post_id).state == "awaiting_approval"
    assert world.account_settings.reads == 1  # the limit and the approval setting: one read


def test_a_revision_of_text_and_time_reads_the_accounts_settings_once(world: Services, clock: ManualClock) -> None:
    world.account_settings.settings[("default", "big")] = {"max_characters": 1000}
    post_id = world.posts.schedule(
        account="big", platform="mastodon", content=Content(text="a"), scheduled_at=clock.now + timedelta(hours=1)
    )
    world.account_settings.reads = 0
    later = clock.now + timedelta(hours=2)
    world.posts.revise(post_id, expected_version=None, content=Content(text="b" * 700), scheduled_at=later)
    post = world.posts.get_post(post_id)
    assert (post.content.text, post.due_at) == ("b" * 700, later)  # the account's own limit let 700 pass
    assert world.account_settings.reads == 1  # the limit and the window: one read
