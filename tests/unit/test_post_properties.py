"""Properties of the lifecycle over random command sequences (hypothesis).

Whatever the sequence: the state is always one of the seven; a command either appends events
or raises a named error and appends nothing; terminal states absorb; rebuilding from the
(encoded and decoded) events gives the same post; the publish key changes exactly when the
content version or the scheduled instant does; and every recorded decision re-runs the same.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.content import Content
from domain.decisions import AccountStatus, RetryPolicy, decide
from domain.errors import HeraldError
from domain.outcomes import Observation, Observed, RemotePart, RemotePost, Search
from domain.post import TERMINAL, Post, PostState
from infrastructure.encoding import OrjsonTranscoder, PydanticMapper
from tests.clock import ManualClock
from tests.unit.builders import new_draft

POLICY = RetryPolicy(base_seconds=5, cap_seconds=120, max_attempts=4, jitter=0.5)
LEASE = timedelta(seconds=30)
MAPPER = PydanticMapper(transcoder=OrjsonTranscoder())

observations = st.builds(
    Observed,
    kind=st.sampled_from(Observation),
    http_status=st.sampled_from([None, 200, 401, 403, 422, 429, 500, 503]),
    platform_code=st.sampled_from([None, "duplicate", "too_long"]),
    remote_id=st.sampled_from([None, "r1", "r2"]),
)

steps = st.one_of(
    st.tuples(st.just("advance"), st.integers(min_value=1, max_value=4000)),
    st.tuples(st.just("schedule"), st.integers(min_value=-60, max_value=7200)),
    st.tuples(st.just("publish_now"), st.none()),
    st.tuples(st.just("edit"), st.text(max_size=8)),
    st.tuples(st.just("reschedule"), st.integers(min_value=-60, max_value=7200)),
    st.tuples(st.just("cancel"), st.none()),
    st.tuples(st.just("claim"), st.none()),
    st.tuples(st.just("claim_refused"), st.sampled_from(["too long", "no image"])),
    st.tuples(st.just("outcome"), st.tuples(observations, st.integers(0, 2**32))),
    st.tuples(st.just("stale_outcome"), observations),
    st.tuples(st.just("expire"), st.none()),
    st.tuples(st.just("found"), st.none()),
    st.tuples(st.just("release"), st.none()),
    st.tuples(st.just("fail"), st.sampled_from(["deadline_passed", "account_disconnected"])),
    st.tuples(st.just("reconcile"), st.tuples(st.booleans(), st.booleans())),
    st.tuples(st.just("hold"), st.sampled_from(["account_disconnected", "account_unknown"])),
    st.tuples(st.just("release_hold"), st.booleans()),
    st.tuples(st.just("settle"), st.booleans()),
    st.tuples(st.just("pass_deadline"), st.none()),
    st.tuples(st.just("part"), st.integers(1, 3)),
    st.tuples(st.just("abandon"), st.none()),
    st.tuples(st.just("ask_approval"), st.integers(min_value=-60, max_value=7200)),
    st.tuples(st.just("approve"), st.none()),
    st.tuples(st.just("reject"), st.none()),
    st.tuples(st.just("redrive"), st.none()),
)


@dataclass(frozen=True)
class Said:
    message: str


def run(post: Post, clock: ManualClock, step: tuple[str, Any]) -> None:
    name, arg = step
    now = clock()
    if name == "advance":
        clock.advance(seconds=arg)
    elif name == "schedule":
        post.schedule(now + timedelta(seconds=arg), now=now)
    elif name == "publish_now":
        post.schedule(now, now=now, publish_now=True)
    elif name == "edit":
        post.edit_content(Content(text=arg), now=now)
    elif name == "reschedule":
        post.reschedule(now + timedelta(seconds=arg), now=now)
    elif name == "cancel":
        post.cancel(now=now)
    elif name == "claim":
        post.claim(worker="w", lease=LEASE, now=now)
    elif name == "claim_refused":
        post.claim(worker="w", lease=LEASE, now=now, problems=[Said(arg)])
    elif name == "outcome":
        observed, seed = arg
        post.record_outcome(attempt=post.attempt, observed=observed, policy=POLICY, seed=seed, now=now)
    elif name == "stale_outcome":
        post.record_outcome(attempt=post.attempt + 1, observed=arg, policy=POLICY, seed=0, now=now)
    elif name == "expire":
        post.expire_lease(now=now)
    elif name == "found":
        post.confirm_delivered(RemotePost(remote_id="found"), evidence="by key", now=now)
    elif name == "release":
        post.release_for_retry(evidence="not found", now=now)
    elif name == "fail":
        post.fail(arg, "remedy", now=now)
    elif name == "reconcile":
        found, complete = arg
        parts = (RemotePart(part=1, remote_id="found"),) if found else ()
        post.reconcile(Search(found=parts, complete=complete, how="looked"), policy=POLICY, now=now)
    elif name == "hold":
        post.hold(arg, "detail", "remedy", now=now)
    elif name == "release_hold":
        status = AccountStatus(exists=True, connected=arg, connected_since=now, readable=True, supported=True)
        post.release_hold(status, now=now)
    elif name == "settle":
        post.settle(live=RemotePost(remote_id="seen") if arg else None, actor="support", note="checked", now=now)
    elif name == "pass_deadline":
        post.pass_deadline(now=now)
    elif name == "part":
        post.record_part(attempt=post.attempt, part=RemotePart(part=arg, remote_id=f"p{arg}"), now=now)
    elif name == "abandon":
        post.abandon_claim(attempt=post.attempt, reason="stopping", now=now)
    elif name == "ask_approval":
        post.request_approval(now + timedelta(seconds=arg), now=now)
    elif name == "approve":
        post.approve(actor="approver", comment="ok", now=now)
    elif name == "reject":
        post.reject(actor="approver", comment="no", now=now)
    elif name == "redrive":
        post.redrive(UUID(int=post.version), actor="support", now=now)


def rebuild(events: list[Any]) -> Post:
    post = None
    for event in events:
        post = MAPPER.to_domain_event(MAPPER.to_stored_event(event)).mutate(post)
    assert isinstance(post, Post)
    return post


@settings(max_examples=300, deadline=None)
@given(st.lists(steps, max_size=30))
def test_any_command_sequence_keeps_the_lifecycle_sound(sequence: list[tuple[str, Any]]) -> None:
    clock = ManualClock()
    post = new_draft(clock)
    events = list(post.collect_events())
    for step in sequence:
        before_state = post.state
        before_key = (post.content_version, post.due_at, post.publish_key)
        try:
            run(post, clock, step)
        except HeraldError:
            assert post.pending_events == []  # a refusal appends nothing
        new_events = list(post.collect_events())
        events += new_events

        assert post.state in set(PostState)
        if before_state in TERMINAL:  # only a failed post's one redrive link is added after the end
            assert [type(e).__name__ for e in new_events] in ([], ["Redriven"]) and post.state is before_state
            assert not new_events or before_state is PostState.FAILED
        if post.state is PostState.AWAITING_APPROVAL:
            assert post.attempt == 0 and post.lease_until is None  # waiting is never sending
        content_version, due_at, key = before_key
        changed_inputs = (post.content_version, post.due_at) != (content_version, due_at)
        if key is not None and post.publish_key is not None:
            assert (post.publish_key != key) == changed_inputs

    rebuilt = rebuild(events)
    assert rebuilt.__dict__ == post.__dict__


@settings(max_examples=300, deadline=None)
@given(st.lists(steps, max_size=30))
def test_every_recorded_decision_replays_to_the_same_event(sequence: list[tuple[str, Any]]) -> None:
    clock = ManualClock()
    post = new_draft(clock)
    events = list(post.collect_events())
    for step in sequence:
        with contextlib.suppress(HeraldError):
            run(post, clock, step)
        events += post.collect_events()

    for index, event in enumerate(events):
        observed = getattr(event, "observed", None)
        policy = getattr(event, "policy", None)
        if observed is None or not isinstance(
            event, Post.AttemptFailed | Post.Failed | Post.Delivered | Post.OutcomeAmbiguous | Post.Held
        ):
            continue
        before = rebuild(events[:index])
        assert before.deadline is not None
        again = decide(
            observed,
            failures_so_far=before.counted_failures,
            deadline=before.deadline,
            policy=policy or POLICY,
            now=event.timestamp,
            seed=getattr(event, "seed", None) or 0,
            attempt=event.attempt,
            parts_live=before.live_parts,
            could_have_landed=before.could_have_landed,
        )
        if isinstance(event, Post.Held):
            assert (again.kind, again.reason) == ("hold", event.reason)  # type: ignore[union-attr]
            continue
        if isinstance(event, Post.AttemptFailed):
            assert (again.kind, again.next_attempt_at) == ("retry", event.next_attempt_at)  # type: ignore[union-attr]
        elif isinstance(event, Post.Failed):
            assert (again.kind, again.reason) == ("fail", event.reason)  # type: ignore[union-attr]
        elif isinstance(event, Post.Delivered):
            assert (again.kind, again.remote_id) == ("deliver", event.remote_id)  # type: ignore[union-attr]
        else:
            assert (again.kind, again.reason) == ("ambiguous", event.reason)  # type: ignore[union-attr]
