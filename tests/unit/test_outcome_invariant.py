"""The invariant above all, as a property over the decision functions: against a platform that
answers truthfully (but may keep a post and lose the answer, fail after keeping it, refuse,
throttle, or revoke), whatever happens, a post ends `failed` only when the platform holds none
of it, `delivered` only when it holds every part, and `partial` only with the parts it holds.
Every other post stays ambiguous, held or queued: visibly, never failed while live."""

from __future__ import annotations

import contextlib
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.content import Content, ThreadPart
from domain.decisions import AccountStatus, RetryPolicy
from domain.errors import HeraldError
from domain.outcomes import Observation, Observed, RemotePart, RemotePost, Search
from domain.post import PostState
from tests.clock import ManualClock
from tests.unit.builders import new_draft

POLICY = RetryPolicy(base_seconds=5, cap_seconds=60, max_attempts=4, jitter=0.3, ambiguity_bound=3)
LEASE = timedelta(seconds=30)

# what the platform does with one request for a part it does not hold yet: (answer, did it keep the post?)
FRESH = [
    (Observation.ACCEPTED, True),
    (Observation.TIMEOUT_AFTER_SEND, True),  # kept it, the answer was lost
    (Observation.TIMEOUT_AFTER_SEND, False),
    (Observation.SERVER_ERROR, True),  # a 5xx after it kept the post
    (Observation.SERVER_ERROR, False),
    (Observation.ADAPTER_ERROR, True),
    (Observation.ADAPTER_ERROR, False),
    (Observation.CONNECT_ERROR, False),
    (Observation.RATE_LIMITED, False),
    (Observation.REJECTED, False),
    (Observation.AUTH_REVOKED, False),
    (Observation.ALREADY_PUBLISHED, False),  # someone else's copy of the text
    ("died", True),  # the worker died after the platform kept it
    ("died", False),
]
# and for a part it holds already: the platform's own "already there" answers, or a lost answer
KNOWN = [Observation.ALREADY_PUBLISHED, "replay", Observation.TIMEOUT_AFTER_SEND, Observation.SERVER_ERROR, "died"]


def world_steps() -> st.SearchStrategy[list[tuple[int, int, bool, int]]]:
    return st.lists(st.tuples(st.integers(0, 99), st.integers(0, 99), st.booleans(), st.integers(0, 900)), max_size=80)


def observed(kind: Observation, part: int, remote_id: str | None = None) -> Observed:
    status = {"accepted": 201, "server_error": 503, "rate_limited": 429, "rejected": 422, "auth_revoked": 401}
    return Observed(kind=kind, http_status=status.get(kind.value), remote_id=remote_id, part=part)


@settings(max_examples=400, deadline=None)
@given(st.integers(1, 3), world_steps())
def test_a_post_is_failed_only_when_the_platform_holds_none_of_it(
    parts: int, script: list[tuple[int, int, bool, int]]
) -> None:
    clock = ManualClock()
    post = new_draft(clock)
    post.edit_content(
        Content(text="1", thread=tuple(ThreadPart(text=str(n)) for n in range(2, parts + 1))), now=clock()
    )
    post.schedule(clock.now, now=clock(), publish_now=True)
    live: dict[int, str] = {}  # the platform's truth: part → remote id

    def attempt(choice: int, second: int) -> None:
        """One attempt, as an adapter makes it: each part not yet live, in order."""
        number = post.attempt
        for part in range(post.live_parts + 1, parts + 1):
            if part in live:
                answer = KNOWN[choice % len(KNOWN)]
                if answer == "replay":  # an idempotent repeat gets the first post back
                    answer, remote = Observation.ACCEPTED, live[part]
                else:
                    remote = None
                kept = True
            else:
                answer, kept = FRESH[choice % len(FRESH)]
                remote = f"r{part}" if kept else None
                if kept:
                    live[part] = str(remote)
            if answer == "died":
                return  # no outcome: the lease will run out
            assert isinstance(answer, Observation)
            if answer is Observation.ACCEPTED and remote is not None:
                if parts > 1:
                    post.record_part(attempt=number, part=RemotePart(part=part, remote_id=remote), now=clock())
                if part < parts:
                    choice = second  # the next part's fate
                    continue
                post.record_outcome(
                    attempt=number, observed=observed(answer, 1, live[1]), policy=POLICY, seed=choice, now=clock()
                )
                return
            post.record_outcome(
                attempt=number, observed=observed(answer, part), policy=POLICY, seed=choice, now=clock()
            )
            return

    def search(complete: bool) -> Search:
        chain = []
        for part in range(1, parts + 1):
            if part not in live:
                break
            chain.append(RemotePart(part=part, remote_id=live[part]))
        return Search(found=tuple(chain) if complete else tuple(chain[:1]), complete=complete, how="looked")

    for choice, second, flag, wait in script:
        if post.is_terminal:
            break
        clock.advance(seconds=wait)
        try:
            if post.state is PostState.QUEUED:
                if clock.now > post.deadline:  # type: ignore[operator]
                    post.pass_deadline(now=clock())
                else:
                    clock.now = max(clock.now, post.next_attempt_at or clock.now)
                    post.claim(worker="w", lease=LEASE, now=clock())
                    attempt(choice, second)
            elif post.state is PostState.DISPATCHED:
                clock.now = max(clock.now, post.lease_until)  # type: ignore[type-var]
                post.expire_lease(now=clock())
            elif post.state is PostState.AMBIGUOUS and post.attention is None:
                post.reconcile(search(complete=flag or choice % 4 != 0), policy=POLICY, now=clock())
            elif post.state is PostState.AMBIGUOUS:  # support looks at the platform and says what it sees
                every = all(part in live for part in range(1, parts + 1))
                post.settle(
                    live=RemotePost(remote_id=live[1]) if every else None, actor="support", note="looked", now=clock()
                )
            elif post.state is PostState.HELD:
                status = AccountStatus(
                    exists=True, connected=flag, connected_since=clock(), readable=True, supported=True
                )
                post.release_hold(status, now=clock())
        except HeraldError:
            pass
        post.collect_events()

    recorded = {part: remote.remote_id for part, remote in post.parts.items()}
    if post.state is PostState.FAILED:
        assert not live, f"failed ({post.failure_reason}) while the platform holds parts {sorted(live)}"
    if post.state is PostState.DELIVERED:
        assert all(part in live for part in range(1, parts + 1)) and post.remote_id == live[1]
    if post.state is PostState.PARTIAL:
        assert recorded and all(live.get(part) == remote for part, remote in recorded.items())
    assert all(live.get(part) == remote for part, remote in recorded.items())  # no part recorded that is not there


@settings(max_examples=200, deadline=None)
@given(world_steps())
def test_after_the_platform_says_already_published_the_post_is_never_sent_again_unproven(
    script: list[tuple[int, int, bool, int]],
) -> None:
    """A platform's "already published" on a retry is evidence: the post is settled from it
    or held for support; it never goes back into the send loop until absence is proven."""
    clock = ManualClock()
    post = new_draft(clock)
    post.schedule(clock.now, now=clock(), publish_now=True)
    post.claim(worker="w", lease=LEASE, now=clock())
    post.record_outcome(
        attempt=1, observed=observed(Observation.TIMEOUT_AFTER_SEND, 1), policy=POLICY, seed=0, now=clock()
    )
    post.reconcile(Search(found=(), complete=True, how="not found"), policy=POLICY, now=clock())  # released
    post.claim(worker="w", lease=LEASE, now=clock())
    post.record_outcome(
        attempt=2, observed=observed(Observation.ALREADY_PUBLISHED, 1), policy=POLICY, seed=0, now=clock()
    )
    assert post.state is PostState.AMBIGUOUS
    for _, _, complete, wait in script:
        clock.advance(seconds=wait)
        with contextlib.suppress(HeraldError):
            post.reconcile(Search(found=(), complete=complete, how="not found"), policy=POLICY, now=clock())
        assert post.state is not PostState.QUEUED, "sent again on no proof, after the platform said it was there"
        assert post.state is not PostState.FAILED
    assert post.attempt == 2
