"""Properties of the outcome decisions (DESIGN.md's outcome table)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from domain.decisions import Ambiguous, Deliver, Fail, Retry, RetryPolicy, decide
from domain.outcomes import Observation, Observed

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)

policies = st.builds(
    RetryPolicy,
    base_seconds=st.floats(min_value=0.1, max_value=60),
    cap_seconds=st.floats(min_value=1, max_value=3600),
    max_attempts=st.integers(min_value=1, max_value=10),
    jitter=st.floats(min_value=0, max_value=1),
)
deadlines = st.integers(min_value=0, max_value=7200).map(lambda s: NOW + timedelta(seconds=s))
seeds = st.integers(min_value=0, max_value=2**48)


@given(policies, st.integers(0, 12), deadlines, seeds, st.sampled_from([500, 502, 503, None]))
def test_server_errors_retry_within_the_deadline_or_give_up_with_a_reason(
    policy: RetryPolicy, failures: int, deadline: datetime, seed: int, status: int | None
) -> None:
    """A 5xx backs off and retries; out of retries or time, the post gives up: looked for
    first (a 5xx may come after the platform kept it), or failed at once after connect
    errors alone (nothing was sent)."""
    kind = Observation.SERVER_ERROR if status else Observation.CONNECT_ERROR
    decision = decide(
        Observed(kind=kind, http_status=status),
        failures_so_far=failures,
        deadline=deadline,
        policy=policy,
        now=NOW,
        seed=seed,
    )
    gave_up = Ambiguous if status else Fail
    if failures + 1 >= policy.max_attempts:
        assert isinstance(decision, gave_up) and decision.reason == "retries_exhausted"
    elif isinstance(decision, Retry):
        wait = (decision.next_attempt_at - NOW).total_seconds()
        full = min(policy.cap_seconds, policy.base_seconds * 2**failures)
        assert full * (1 - policy.jitter) - 1e-6 <= wait <= full + 1e-6
        assert decision.next_attempt_at <= deadline and decision.counts_toward_limit
    else:
        assert isinstance(decision, gave_up) and decision.reason == "deadline_passed"


@given(policies, st.integers(0, 12), deadlines, seeds, st.integers(0, 9000))
def test_a_429_waits_for_the_reset_and_is_not_counted(
    policy: RetryPolicy, failures: int, deadline: datetime, seed: int, reset_in: int
) -> None:
    reset = NOW + timedelta(seconds=reset_in)
    observed = Observed(kind=Observation.RATE_LIMITED, http_status=429, retry_at=reset)
    decision = decide(observed, failures_so_far=failures, deadline=deadline, policy=policy, now=NOW, seed=seed)
    if reset > deadline:
        assert isinstance(decision, Fail) and decision.reason == "deadline_passed"
    else:
        assert decision == Retry(next_attempt_at=reset, counts_toward_limit=False)


@given(policies, seeds)
def test_the_same_seed_gives_the_same_jitter(policy: RetryPolicy, seed: int) -> None:
    assert policy.delay(3, seed) == policy.delay(3, seed)


def test_the_outcome_table() -> None:
    def outcome(**observed: object) -> object:
        return decide(
            Observed(**observed),  # type: ignore[arg-type]
            failures_so_far=0,
            deadline=NOW + timedelta(hours=1),
            policy=RetryPolicy(),
            now=NOW,
            seed=7,
        )

    assert outcome(kind="accepted", http_status=200, remote_id="1") == Deliver(remote_id="1", permalink=None)
    assert outcome(kind="accepted", http_status=200) == Ambiguous(reason="accepted_without_remote_id")
    assert isinstance(outcome(kind="connect_error"), Retry)
    assert outcome(kind="timeout_after_send") == Ambiguous(reason="timeout_after_send")
    assert outcome(kind="auth_revoked", http_status=401).reason == "auth_revoked"  # type: ignore[attr-defined]
    assert outcome(kind="rejected", http_status=403).reason == "content_rejected"  # type: ignore[attr-defined]
