"""`domain/verification.py`: every recorded decision, made again from the stored events.

Over any command sequence (the lifecycle's own steps, hypothesis), the events as a store
gives them back verify with no mismatch; any decision's stored event, once tampered with,
is named; and an event is verified against the rules of the version that decided it.
"""

from __future__ import annotations

import contextlib
import random
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.decisions import CURRENT_RULES, RULES, DecisionRules, Retry, RetryPolicy
from domain.errors import HeraldError
from domain.outcomes import Observation, Observed
from domain.verification import Verifier
from tests.clock import ManualClock
from tests.unit.builders import claimed_post, new_draft
from tests.unit.test_post_properties import MAPPER, run, steps


def history(sequence: list[tuple[str, Any]]) -> list[Any]:
    """The post's events as a store gives them back (encoded, then decoded)."""
    clock = ManualClock()
    post = new_draft(clock)
    events = list(post.collect_events())
    for step in sequence:
        with contextlib.suppress(HeraldError):
            run(post, clock, step)
        events += post.collect_events()
    return [MAPPER.to_domain_event(MAPPER.to_stored_event(event)) for event in events]


def verified(events: list[Any]) -> Verifier:
    verifier = Verifier()
    for event in events:
        verifier.feed(event)
    return verifier


@settings(max_examples=300, deadline=None)
@given(st.lists(steps, max_size=30))
def test_every_decision_of_any_history_verifies(sequence: list[tuple[str, Any]]) -> None:
    events = history(sequence)
    verifier = verified(events)
    assert verifier.mismatches == []
    assert verifier.checked == sum(1 for event in events if getattr(event, "basis", None) is not None)
    assert verifier.unrecorded == 0


def tampered(event: Any) -> Any:
    """The event with one recorded field changed, as a bad write or a hand edit would."""
    if hasattr(event, "next_attempt_at"):
        return event.model_copy(update={"next_attempt_at": event.next_attempt_at + timedelta(seconds=1)})
    if hasattr(event, "reason"):
        return event.model_copy(update={"reason": event.reason + "_tampered"})
    if hasattr(event, "remote_id"):
        return event.model_copy(update={"remote_id": "tampered"})
    return event.model_copy(update={"evidence": "tampered"})


@settings(max_examples=300, deadline=None)
@given(st.lists(steps, max_size=30), st.integers(min_value=0))
def test_a_tampered_decision_is_named(sequence: list[tuple[str, Any]], pick: int) -> None:
    events = history(sequence)
    decided = [i for i, event in enumerate(events) if getattr(event, "basis", None) is not None]
    if not decided:
        return
    index = decided[pick % len(decided)]
    events[index] = tampered(events[index])
    verifier = verified(events)
    first = verifier.mismatches[0]
    assert (first.post_id, first.position, first.event) == (
        events[index].originator_id,
        events[index].originator_version,
        type(events[index]).__name__,
    )
    assert first.expected != first.recorded


def test_the_generated_histories_reach_every_rule() -> None:
    """The property tests above mean something only if decisions of every rule occur."""
    rules: Counter[str] = Counter()
    for seed in range(400):
        for event in history(_walk(random.Random(seed))):
            if (basis := getattr(event, "basis", None)) is not None:
                rules[basis.rule] += 1
    assert set(rules) == {"outcome", "reconcile", "hold", "deadline", "claim", "lease"}, rules


def _walk(rng: Any) -> list[tuple[str, Any]]:
    """A plausible life: scheduled, then claims, outcomes, looks and holds in random order."""
    sequence: list[tuple[str, Any]] = [("schedule", 60)]
    for _ in range(25):
        kind = rng.choice(list(Observation))
        sequence.append(
            rng.choice(
                [
                    ("advance", rng.randrange(1, 4000)),
                    ("claim", None),
                    ("claim_refused", "too long"),
                    ("outcome", (Observed(kind=kind, remote_id="r1" if rng.random() < 0.5 else None), 7)),
                    ("expire", None),
                    ("reconcile", (rng.random() < 0.5, rng.random() < 0.5)),
                    ("hold", "account_disconnected"),
                    ("release_hold", rng.random() < 0.5),
                    ("pass_deadline", None),
                ]
            )
        )
    return sequence


def _retry_in_one_second(observed: Observed, *, now: Any, **_: Any) -> Retry:
    return Retry(next_attempt_at=now + timedelta(seconds=1), counts_toward_limit=True)


OLD = DecisionRules(
    1,
    _retry_in_one_second,
    CURRENT_RULES.reconcile,
    CURRENT_RULES.release_held,
    CURRENT_RULES.past_deadline,
    CURRENT_RULES.refusal_at_claim,
)


def decided_by_old_rules() -> list[Any]:
    clock = ManualClock()
    post = claimed_post(clock)
    observed = Observed(kind=Observation.SERVER_ERROR, http_status=503)
    policy = RetryPolicy()
    post.record_outcome(attempt=post.attempt, observed=observed, policy=policy, seed=1, now=clock(), rules=OLD)
    return [MAPPER.to_domain_event(MAPPER.to_stored_event(event)) for event in post.collect_events()]


def test_an_event_is_verified_against_the_rules_that_made_it(monkeypatch: pytest.MonkeyPatch) -> None:
    events = decided_by_old_rules()
    assert events[-1].basis.version == 1
    monkeypatch.setitem(RULES, 1, OLD)
    assert verified(events).mismatches == []
    monkeypatch.setitem(RULES, 1, CURRENT_RULES)  # verified against today's rules, it differs
    (mismatch,) = verified(events).mismatches
    assert set(mismatch.expected) == {"next_attempt_at"}


def test_rules_no_longer_kept_are_a_mismatch_not_a_pass() -> None:
    assert 1 not in RULES
    (mismatch,) = verified(decided_by_old_rules()).mismatches
    assert mismatch.expected == {"rules": "no rules are kept for version 1"}


def test_since_and_workspace_narrow_what_is_checked() -> None:
    events = history(
        [("schedule", 60), ("advance", 60), ("claim", None), ("outcome", (Observed(kind=Observation.SERVER_ERROR), 3))]
    )
    decided = next(i for i, event in enumerate(events) if getattr(event, "basis", None) is not None)
    events[decided] = tampered(events[decided])
    assert len(verified(events).mismatches) == 1
    other = Verifier(workspace="elsewhere")
    later = Verifier(since=events[-1].timestamp + timedelta(seconds=1))
    for event in events:
        other.feed(event)
        later.feed(event)
    assert other.mismatches == [] and other.checked == 0 and other.events == len(events)
    assert later.mismatches == [] and later.checked == 0


def test_a_terminal_post_is_forgotten_but_for_its_workspace() -> None:
    events = history(
        [
            ("schedule", 60),
            ("advance", 60),
            ("claim", None),
            ("outcome", (Observed(kind=Observation.ACCEPTED, remote_id="r"), 3)),
        ]
    )
    verifier = verified(events)
    post_id = events[0].originator_id
    assert post_id not in verifier.posts and verifier.workspace_of(post_id) == "w1"
